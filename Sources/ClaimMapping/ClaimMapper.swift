import FedgateCore
import Foundation

/// Turns a connector's ``UpstreamIdentity`` into the ``Claims`` the gateway signs, running a
/// pipeline of ``ClaimRule``s and stopping at the first reject (after Pinniped's
/// `idtransform` pipeline).
///
/// The gateway maps every login and refresh, with an empty config when a connector has no
/// `claimMapping:` block, so the closing rules always run: groups are de-duplicated (first
/// occurrence wins) and then ``KubernetesGuardRule`` rejects `system:` usernames and drops
/// `system:` groups. Neither can be configured away.
///
/// Order of the configured rules:
/// 1. `usernameAttr`, `preferredUsernameAttr`, `emailAttr`, then `emailSuffix`;
/// 2. `groupsAttr` picks the groups;
/// 3. `allowedGroups` checks them (upstream names);
/// 4. `groupsFilter` keeps full matches;
/// 5. `groupsPrefix` namespaces them.
public struct ClaimMapper: Sendable {
    /// The full pipeline, closing rules included.
    public let rules: [any ClaimRule]

    /// - Throws: ``ClaimMappingError`` listing ``ClaimMappingConfig/validate()``'s problems
    ///   (each names its field, e.g. `groupsFilter: invalid regular expression`).
    public init(config: ClaimMappingConfig = ClaimMappingConfig()) throws {
        let problems = config.validate()
        guard problems.isEmpty else { throw ClaimMappingError(problems: problems) }

        var rules: [any ClaimRule] = []
        if let attribute = config.usernameAttr { rules.append(SelectAttributeRule(.username, from: attribute)) }
        if let attribute = config.preferredUsernameAttr { rules.append(SelectAttributeRule(.preferredUsername, from: attribute)) }
        if let attribute = config.emailAttr { rules.append(SelectAttributeRule(.email, from: attribute)) }
        if let domain = config.emailSuffix { rules.append(EmailSuffixRule(domain: domain)) }
        if let attribute = config.groupsAttr { rules.append(GroupsSourceRule(attribute: attribute)) }
        if let allowed = config.allowedGroups, !allowed.isEmpty { rules.append(RequireAnyGroupRule(allowed)) }
        if let pattern = config.groupsFilter { rules.append(try GroupsFilterRule(pattern: pattern)) }
        if let prefix = config.groupsPrefix, !prefix.isEmpty { rules.append(GroupsPrefixRule(prefix: prefix)) }
        self.init(rules: rules)
    }

    /// A pipeline of custom rules, run in order, followed by the closing rules.
    public init(rules: [any ClaimRule]) {
        self.rules = rules + [DeduplicateGroupsRule(), KubernetesGuardRule()]
    }

    public func map(_ identity: UpstreamIdentity) -> MappingResult {
        var mapped = MappedIdentity(identity)
        for rule in rules {
            if case .reject(let reason) = rule.apply(to: &mapped) {
                return .rejected(reason: reason)
            }
        }
        return .allowed(mapped.claims)
    }
}
