import Foundation

/// A ``ClaimMappingConfig`` that cannot be turned into a ``ClaimMapper``. Each problem names its
/// field (`groupsFilter: invalid regular expression`).
public struct ClaimMappingError: Error, Sendable, Equatable, CustomStringConvertible {
    public let problems: [String]
    public init(problems: [String]) { self.problems = problems }
    public var description: String { "claimMapping: " + problems.joined(separator: "; ") }
}
