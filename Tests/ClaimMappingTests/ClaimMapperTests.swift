import ClaimMapping
import FedgateCore
import Foundation
import Testing

/// One row of the rules table: a config, an upstream identity and the expected verdict.
struct MappingCase: Sendable, CustomTestStringConvertible {
    let name: String
    let config: ClaimMappingConfig
    let identity: UpstreamIdentity
    let expected: MappingResult
    var testDescription: String { name }
}

private let jane = UpstreamIdentity(
    userID: "u-1", username: "jane", preferredUsername: "jd", email: "jane@example.com", emailVerified: true,
    groups: ["devs", "admins"],
    rawClaims: ["uid": ["jdoe"], "mail": ["j.doe@corp.example"], "memberOf": ["cn=eng", "cn=ops"], "empty": []]
)

private func claims(
    username: String = "jane", preferredUsername: String = "jd", email: String = "jane@example.com",
    emailVerified: Bool = true, groups: [String] = ["devs", "admins"]
) -> MappingResult {
    .allowed(Claims(userID: "u-1", username: username, preferredUsername: preferredUsername, email: email,
                    emailVerified: emailVerified, groups: groups))
}

private func with(_ change: (inout UpstreamIdentity) -> Void) -> UpstreamIdentity {
    var identity = jane
    change(&identity)
    return identity
}

private let cases: [MappingCase] = [
    .init(name: "empty config passes the identity through", config: .init(), identity: jane, expected: claims()),
    .init(name: "groupsPrefix namespaces every group", config: .init(groupsPrefix: "ldap:"), identity: jane,
          expected: claims(groups: ["ldap:devs", "ldap:admins"])),
    .init(name: "groupsFilter keeps full matches only", config: .init(groupsFilter: "eng-.*"),
          identity: with { $0.groups = ["eng-a", "ops", "xeng-b", "eng-", "eng"] }, expected: claims(groups: ["eng-a", "eng-"])),
    .init(name: "groupsFilter does not accept a partial match", config: .init(groupsFilter: "eng"),
          identity: with { $0.groups = ["eng", "eng-admins", "seng"] }, expected: claims(groups: ["eng"])),
    .init(name: "groupsFilter runs before groupsPrefix", config: .init(groupsPrefix: "corp:", groupsFilter: "eng-.*"),
          identity: with { $0.groups = ["eng-a", "ops"] }, expected: claims(groups: ["corp:eng-a"])),
    .init(name: "groupsFilter with an alternation", config: .init(groupsFilter: "(devs|ops)"), identity: jane,
          expected: claims(groups: ["devs"])),
    .init(name: "allowedGroups rejects outsiders", config: .init(allowedGroups: ["auditors", "sre"]), identity: jane,
          expected: .rejected(reason: "user is not in any of the required groups")),
    .init(name: "allowedGroups admits a member of any listed group", config: .init(allowedGroups: ["sre", "admins"]),
          identity: jane, expected: claims()),
    .init(name: "allowedGroups compares upstream names, before the prefix",
          config: .init(groupsPrefix: "ldap:", allowedGroups: ["admins"]), identity: jane,
          expected: claims(groups: ["ldap:devs", "ldap:admins"])),
    .init(name: "allowedGroups rejects a user without groups", config: .init(allowedGroups: ["admins"]),
          identity: with { $0.groups = [] }, expected: .rejected(reason: "user is not in any of the required groups")),
    .init(name: "an empty allowedGroups list admits everyone", config: .init(allowedGroups: []),
          identity: with { $0.groups = [] }, expected: claims(groups: [])),
    .init(name: "usernameAttr email", config: .init(usernameAttr: "email"), identity: jane,
          expected: claims(username: "jane@example.com")),
    .init(name: "usernameAttr from a raw claim", config: .init(usernameAttr: "uid"), identity: jane,
          expected: claims(username: "jdoe")),
    .init(name: "usernameAttr userID", config: .init(usernameAttr: "userID"), identity: jane, expected: claims(username: "u-1")),
    .init(name: "usernameAttr preferredUsername", config: .init(usernameAttr: "preferredUsername"), identity: jane,
          expected: claims(username: "jd")),
    .init(name: "a missing username attribute rejects", config: .init(usernameAttr: "sAMAccountName"), identity: jane,
          expected: .rejected(reason: "the upstream account has no sAMAccountName to use as the username")),
    .init(name: "an empty raw claim counts as missing", config: .init(usernameAttr: "empty"), identity: jane,
          expected: .rejected(reason: "the upstream account has no empty to use as the username")),
    .init(name: "preferredUsernameAttr username", config: .init(preferredUsernameAttr: "username"), identity: jane,
          expected: claims(preferredUsername: "jane")),
    .init(name: "a missing preferred username becomes empty", config: .init(preferredUsernameAttr: "nickname"),
          identity: jane, expected: claims(preferredUsername: "")),
    .init(name: "emailAttr from a raw claim is not marked verified", config: .init(emailAttr: "mail"), identity: jane,
          expected: claims(email: "j.doe@corp.example", emailVerified: false)),
    .init(name: "emailAttr email keeps the upstream verification", config: .init(emailAttr: "email"), identity: jane,
          expected: claims()),
    .init(name: "attributes are read from the upstream, so a swap works",
          config: .init(usernameAttr: "email", emailAttr: "username"), identity: jane,
          expected: claims(username: "jane@example.com", email: "jane", emailVerified: false)),
    .init(name: "emailSuffix fills a missing email", config: .init(emailSuffix: "corp.example"),
          identity: with { $0.email = ""; $0.emailVerified = false }, expected: claims(email: "jane@corp.example", emailVerified: false)),
    .init(name: "emailSuffix leaves an existing email alone", config: .init(emailSuffix: "corp.example"), identity: jane,
          expected: claims()),
    .init(name: "groupsAttr takes groups from a raw claim", config: .init(groupsAttr: "memberOf"), identity: jane,
          expected: claims(groups: ["cn=eng", "cn=ops"])),
    .init(name: "groupsAttr naming an absent claim gives no groups", config: .init(groupsAttr: "roles"), identity: jane,
          expected: claims(groups: [])),
    .init(name: "groupsAttr groups is the identity's groups", config: .init(groupsAttr: "groups"), identity: jane,
          expected: claims()),
    .init(name: "groups are de-duplicated in first-seen order", config: .init(),
          identity: with { $0.groups = ["a", "b", "a", "c", "b"] }, expected: claims(groups: ["a", "b", "c"])),
    .init(name: "groups that collide after prefixing stay de-duplicated", config: .init(groupsPrefix: "x:"),
          identity: with { $0.groups = ["a", "a"] }, expected: claims(groups: ["x:a"])),
    .init(name: "a system: username is rejected", config: .init(), identity: with { $0.username = "system:admin" },
          expected: .rejected(reason: "usernames starting with \"system:\" are reserved")),
    .init(name: "a system: username produced by mapping is rejected too", config: .init(usernameAttr: "uid"),
          identity: with { $0.rawClaims["uid"] = ["system:kube-scheduler"] },
          expected: .rejected(reason: "usernames starting with \"system:\" are reserved")),
    .init(name: "system: groups are dropped", config: .init(),
          identity: with { $0.groups = ["system:masters", "devs", "system:nodes"] }, expected: claims(groups: ["devs"])),
    .init(name: "groups that become system: after prefixing are dropped", config: .init(groupsPrefix: "system"),
          identity: with { $0.groups = [":masters", "-users"] }, expected: claims(groups: ["system-users"])),
    .init(name: "the guard is case-sensitive like Kubernetes", config: .init(),
          identity: with { $0.username = "System:admin"; $0.groups = ["SYSTEM:masters"] },
          expected: claims(username: "System:admin", groups: ["SYSTEM:masters"])),
    .init(name: "the first reject wins", config: .init(allowedGroups: ["sre"]),
          identity: with { $0.username = "system:admin" }, expected: .rejected(reason: "user is not in any of the required groups")),
]

@Suite("claim mapping rules")
struct ClaimMapperTests {
    @Test(arguments: cases)
    func rule(_ row: MappingCase) throws {
        let mapper = try ClaimMapper(config: row.config)
        #expect(mapper.map(row.identity) == row.expected)
    }

    @Test("connector data and raw claims never reach the claims; userID is never remapped")
    func claimsShape() throws {
        let mapper = try ClaimMapper(config: ClaimMappingConfig(usernameAttr: "userID"))
        var identity = jane
        identity.connectorData = Data("secret".utf8)
        guard case .allowed(let claims) = mapper.map(identity) else {
            Issue.record("expected the login to be allowed")
            return
        }
        #expect(claims.userID == "u-1")
        #expect(claims.username == "u-1")
    }

    @Test("custom rules run in order, and the guard still runs after them")
    func customRules() {
        struct Rename: ClaimRule {
            func apply(to identity: inout MappedIdentity) -> RuleOutcome {
                identity.username = "system:" + identity.username
                identity.groups += ["devs"]
                return .continue
            }
        }
        struct Count: ClaimRule {
            func apply(to identity: inout MappedIdentity) -> RuleOutcome {
                identity.groups.count > 2 ? .reject(reason: "too many groups") : .continue
            }
        }
        #expect(ClaimMapper(rules: [Rename()]).map(jane) == .rejected(reason: "usernames starting with \"system:\" are reserved"))
        #expect(ClaimMapper(rules: [Count()]).map(with { $0.groups = ["a", "b", "c"] }) == .rejected(reason: "too many groups"))
        #expect(ClaimMapper(rules: []).rules.count == 2)
    }
}
