import FedgateCore
import Foundation

/// Per-connector claim mapping, decoded from a connector's `claimMapping:` block (Fedgate's
/// extension to Dex's connector envelope; Dex itself has no such block). Every key is optional;
/// an empty block maps the upstream identity unchanged apart from the Kubernetes guard.
///
/// ```yaml
/// claimMapping:
///   usernameAttr: email
///   groupsPrefix: "ldap:"
///   groupsFilter: "eng-.*"
///   allowedGroups: [eng-admins, eng-devs]
/// ```
///
/// An attribute name is one of the identity's fields (`username`, `email`, `preferredUsername`,
/// `userID`) or, failing that, a key of the connector's raw claims (LDAP attributes, OIDC claims),
/// whose first value is used.
public struct ClaimMappingConfig: Codable, Sendable, Equatable {
    /// Which upstream attribute becomes the username (`name` claim). Default `username`.
    public var usernameAttr: String?
    /// Which upstream attribute becomes `preferred_username`. Default `preferredUsername`.
    public var preferredUsernameAttr: String?
    /// Which upstream attribute becomes `email`. Default `email`.
    public var emailAttr: String?
    /// A raw-claims key to take the groups from (every value). Default the identity's groups.
    public var groupsAttr: String?
    /// Prepended to every group that reaches the token, e.g. `ldap:`.
    public var groupsPrefix: String?
    /// A regular expression; only groups it matches in full reach the token (applied before the prefix).
    public var groupsFilter: String?
    /// If non-empty, the login is rejected unless the user is in one of these upstream groups
    /// (compared before filtering and prefixing, exactly and case-sensitively).
    public var allowedGroups: [String]?
    /// A domain; when the mapped email is empty it becomes `<username>@<emailSuffix>`, after Dex's
    /// LDAP `userSearch.emailSuffix`. Such an email is never marked verified.
    public var emailSuffix: String?

    public init(
        usernameAttr: String? = nil, preferredUsernameAttr: String? = nil, emailAttr: String? = nil,
        groupsAttr: String? = nil, groupsPrefix: String? = nil, groupsFilter: String? = nil,
        allowedGroups: [String]? = nil, emailSuffix: String? = nil
    ) {
        self.usernameAttr = usernameAttr
        self.preferredUsernameAttr = preferredUsernameAttr
        self.emailAttr = emailAttr
        self.groupsAttr = groupsAttr
        self.groupsPrefix = groupsPrefix
        self.groupsFilter = groupsFilter
        self.allowedGroups = allowedGroups
        self.emailSuffix = emailSuffix
    }

    /// Problems as `"<field>: <message>"` (e.g. `groupsFilter: invalid regular expression`);
    /// empty when the block is usable. The config loader prefixes the connector's path.
    public func validate() -> [String] {
        var problems: [String] = []
        let attributes: [(String, String?)] = [
            ("usernameAttr", usernameAttr), ("preferredUsernameAttr", preferredUsernameAttr),
            ("emailAttr", emailAttr), ("groupsAttr", groupsAttr),
        ]
        for (field, value) in attributes {
            if let value, value.trimmingCharacters(in: .whitespaces).isEmpty {
                problems.append("\(field): must not be empty")
            }
        }
        if let groupsFilter, (try? Regex(groupsFilter)) == nil {
            problems.append("groupsFilter: invalid regular expression")
        }
        if let groupsPrefix, groupsPrefix.hasPrefix(KubernetesGuardRule.reservedPrefix) {
            problems.append("groupsPrefix: must not start with \"\(KubernetesGuardRule.reservedPrefix)\" (every group would be dropped)")
        }
        if let allowedGroups, allowedGroups.contains(where: \.isEmpty) {
            problems.append("allowedGroups: entries must not be empty")
        }
        if let emailSuffix {
            if emailSuffix.isEmpty || emailSuffix.contains("@") || emailSuffix.contains(where: \.isWhitespace) {
                problems.append("emailSuffix: must be a domain such as example.com")
            }
        }
        return problems
    }
}
