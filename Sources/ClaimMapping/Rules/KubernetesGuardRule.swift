import FedgateCore
import Foundation

/// Keeps upstream identities out of Kubernetes' reserved namespace. Kubernetes reserves the
/// `system:` prefix for its own users and groups (`system:masters` is cluster-admin, `system:node:*`
/// are kubelets), so a token naming one would let an upstream account impersonate a component.
///
/// A username starting with `system:` rejects the login; groups starting with `system:` (after
/// prefixing) are dropped. The comparison is exact and case-sensitive, as Kubernetes' is.
/// ``ClaimMapper`` always runs this rule last and offers no way to turn it off.
public struct KubernetesGuardRule: ClaimRule {
    public static let reservedPrefix = "system:"

    public init() {}

    public func apply(to identity: inout MappedIdentity) -> RuleOutcome {
        if identity.username.hasPrefix(Self.reservedPrefix) {
            return .reject(reason: "usernames starting with \"\(Self.reservedPrefix)\" are reserved")
        }
        identity.groups.removeAll { $0.hasPrefix(Self.reservedPrefix) }
        return .continue
    }
}
