import FedgateCore
import Foundation

/// The verdict of ``ClaimMapper/map(_:)``. A denied login is a value, not an error: only faults throw.
public enum MappingResult: Sendable, Equatable {
    /// The login may proceed with these claims.
    case allowed(Claims)
    /// The login is denied; `reason` is safe to show to the user.
    case rejected(reason: String)
}
