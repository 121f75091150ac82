import FedgateCore
import Foundation

/// One step of the claim-mapping pipeline. Rules are pure: they read and change the identity and
/// never do I/O, so mapping is cheap and deterministic.
///
/// A rule that denies the login returns ``RuleOutcome/reject(reason:)``; the pipeline stops at the
/// first reject (as Pinniped's identity transformations do), so later rules never see that identity.
public protocol ClaimRule: Sendable {
    func apply(to identity: inout MappedIdentity) -> RuleOutcome
}

/// What a rule decided.
public enum RuleOutcome: Sendable, Equatable {
    /// Hand the (possibly changed) identity to the next rule.
    case `continue`
    /// Deny the login. `reason` is shown to the user, so it must not contain secrets.
    case reject(reason: String)
}
