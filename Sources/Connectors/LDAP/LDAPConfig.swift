import FedgateCore
import Foundation

/// Config of the `ldap` connector, with Dex's keys (`connector/ldap/ldap.go` `Config`), so a Dex
/// `connectors[].config` block for LDAP or Active Directory works unchanged:
///
/// ```yaml
/// host: ldap.example.com:636
/// rootCA: /etc/fedgate/ldap-ca.pem
/// bindDN: cn=fedgate,ou=Services,dc=example,dc=com
/// bindPW: $LDAP_BIND_PW
/// userSearch: {baseDN: ou=People,dc=example,dc=com, filter: "(objectClass=person)", username: uid,
///              idAttr: uid, emailAttr: mail, nameAttr: cn}
/// groupSearch: {baseDN: ou=Groups,dc=example,dc=com, filter: "(objectClass=groupOfNames)",
///               userMatchers: [{userAttr: DN, groupAttr: member}], nameAttr: cn}
/// ```
///
/// Fedgate adds a few keys Dex lacks, all optional: `connectTimeout`, `requestTimeout`,
/// `maxConnections`, `userSearch.binaryIDEncoding`, `groupSearch.maxDepth` and
/// `groupSearch.pageSize`. Unknown keys are ignored, as in Dex.
public struct LDAPConfig: ConnectorConfiguration, Equatable {
    public static var connectorType: String { "ldap" }

    /// `host` or `host:port`; the port defaults to 389 with `insecureNoSSL` or `startTLS`, else 636.
    public var host: String = ""
    public var insecureNoSSL = false
    public var insecureSkipVerify = false
    public var startTLS = false
    /// A PEM file of CAs trusted for this directory only (relative paths: to the config file).
    public var rootCA = ""
    /// PEM CAs inline (Dex: base64 of the PEM, as Go encodes `[]byte`; plain PEM is accepted too).
    public var rootCAData = ""
    public var clientCert = ""
    public var clientKey = ""
    public var bindDN = ""
    public var bindPW = ""
    /// The label of the login form's username field; Dex's default is "Username".
    public var usernamePrompt = ""
    public var userSearch = UserSearch()
    public var groupSearch = GroupSearch()
    /// TCP connect plus TLS handshake limit (LDAP_OPT_NETWORK_TIMEOUT), in seconds. Default 5.
    public var connectTimeout: Double = 5
    /// The most one login or refresh may spend on the directory, waiting for a free connection
    /// included; each operation is bounded by what is left (LDAP_OPT_TIMEOUT). Default 10.
    public var requestTimeout: Double = 10
    /// Connections (each with its own thread) kept open to the directory. Default 4.
    public var maxConnections = 4

    public struct UserSearch: Equatable, Sendable {
        public var baseDN = ""
        public var filter = ""
        /// The attribute(s) the typed username is matched against (`uid`, `sAMAccountName`...).
        /// Dex's string; a list, as Dex master accepts, matches any of them.
        public var username: [String] = []
        public var scope = ""
        public var idAttr = "uid"
        public var emailAttr = "mail"
        public var nameAttr = ""
        public var preferredUsernameAttr = ""
        public var emailSuffix = ""
        /// How a binary id (`objectGUID`) or a non-UTF-8 value becomes text. Default base64.
        public var binaryIDEncoding: LDAPBinaryEncoding = .base64
        public init() {}
    }

    public struct UserMatcher: Equatable, Sendable, Decodable {
        /// The user attribute whose values identify the user in groups (`DN`, `uid`, `memberOf`).
        public var userAttr: String
        /// The group attribute holding those values (`member`, `memberUid`), or `DN` when the
        /// user attribute already lists group DNs (Active Directory's `memberOf`).
        public var groupAttr: String
        /// For nested groups: the attribute of a found group that identifies it as a member of
        /// its parents (`DN` for `member`, `cn` for `memberUid`). Empty = no nesting.
        public var recursionGroupAttr: String

        public init(userAttr: String, groupAttr: String, recursionGroupAttr: String = "") {
            self.userAttr = userAttr; self.groupAttr = groupAttr; self.recursionGroupAttr = recursionGroupAttr
        }

        private enum CodingKeys: String, CodingKey { case userAttr, groupAttr, recursionGroupAttr }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            userAttr = try c.decodeIfPresent(String.self, forKey: .userAttr) ?? ""
            groupAttr = try c.decodeIfPresent(String.self, forKey: .groupAttr) ?? ""
            recursionGroupAttr = try c.decodeIfPresent(String.self, forKey: .recursionGroupAttr) ?? ""
        }

        /// `groupAttr: DN`: the user's values are the DNs of its groups.
        var userListsGroupDNs: Bool { groupAttr.lowercased() == "dn" }
    }

    public struct GroupSearch: Equatable, Sendable {
        public var baseDN = ""
        public var filter = ""
        public var scope = ""
        /// Dex's deprecated single matcher, used when `userMatchers` is empty.
        public var userAttr = ""
        public var groupAttr = ""
        public var userMatchers: [UserMatcher] = []
        public var nameAttr = ""
        /// How many levels of groups-in-groups are followed (0 = direct groups only). Default 10.
        public var maxDepth = 10
        /// RFC 2696 page size for group searches. Default 500 (below Active Directory's MaxPageSize 1000).
        public var pageSize = 500
        public init() {}

        /// The matchers in force: `userMatchers`, else the legacy `userAttr`/`groupAttr` pair (Dex's rule).
        public var effectiveMatchers: [UserMatcher] {
            if let first = userMatchers.first, !first.userAttr.isEmpty { return userMatchers }
            if userAttr.isEmpty && groupAttr.isEmpty { return [] }
            return [UserMatcher(userAttr: userAttr, groupAttr: groupAttr)]
        }
    }

    public init() {}

    public func open(id: String, environment: ConnectorEnvironment) async throws -> any Connector {
        if let problem = validate().first {
            throw ConnectorError.invalidConfig("ldap \(problem)")
        }
        let endpoint = try LDAPEndpoint(config: self, configDirectory: environment.configDirectory)
        var logger = environment.logger
        logger[metadataKey: "connector"] = "\(id)"
        let ignored = ignoredWithoutTLS
        if !ignored.isEmpty {
            logger.warning("insecureNoSSL: plain LDAP without TLS; these settings are ignored", metadata: ["ignored": "\(ignored.joined(separator: ", "))"])
        }
        return LDAPConnector(id: id, config: self, endpoint: endpoint, logger: logger)
    }
}

extension LDAPConfig: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Keeps `bindPW` out of logs and debugger output.
    public var description: String {
        "LDAPConfig(host: \(host), bindDN: \(bindDN), bindPW: <redacted>, userSearch.baseDN: \(userSearch.baseDN), groupSearch.baseDN: \(groupSearch.baseDN))"
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror {
        Mirror(self, children: ["host": host, "bindDN": bindDN, "bindPW": "<redacted>", "userSearch": userSearch, "groupSearch": groupSearch])
    }
}

extension LDAPConfig {
    /// TLS settings that plain LDAP (`insecureNoSSL`) leaves unused, as Dex does.
    var ignoredWithoutTLS: [String] {
        guard insecureNoSSL else { return [] }
        return [("startTLS", startTLS), ("rootCA", !rootCA.isEmpty), ("rootCAData", !rootCAData.isEmpty),
                ("clientCert", !clientCert.isEmpty), ("clientKey", !clientKey.isEmpty), ("insecureSkipVerify", insecureSkipVerify)]
            .filter(\.1).map(\.0)
    }
}
