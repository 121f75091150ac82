import Foundation

/// What a connector learned about a user from the upstream, before claim mapping.
///
/// Mirrors Dex's `connector.Identity`. `connectorData` is opaque to the gateway: it is
/// persisted with refresh tokens and handed back to the connector on refresh.
public struct UpstreamIdentity: Codable, Sendable, Equatable {
    public var userID: String
    public var username: String
    public var preferredUsername: String
    public var email: String
    public var emailVerified: Bool
    public var groups: [String]
    /// Extra upstream attributes a claim-mapping rule may read (e.g. LDAP attributes, OIDC claims).
    public var rawClaims: [String: [String]]
    public var connectorData: Data?

    public init(
        userID: String, username: String, preferredUsername: String = "", email: String = "",
        emailVerified: Bool = false, groups: [String] = [], rawClaims: [String: [String]] = [:],
        connectorData: Data? = nil
    ) {
        self.userID = userID
        self.username = username
        self.preferredUsername = preferredUsername
        self.email = email
        self.emailVerified = emailVerified
        self.groups = groups
        self.rawClaims = rawClaims
        self.connectorData = connectorData
    }
}

/// The claims the gateway puts in tokens, after claim mapping. Stored with auth requests,
/// codes and refresh tokens (Dex's `storage.Claims`).
public struct Claims: Codable, Sendable, Equatable {
    public var userID: String
    public var username: String
    public var preferredUsername: String
    public var email: String
    public var emailVerified: Bool
    public var groups: [String]

    public init(
        userID: String, username: String, preferredUsername: String = "", email: String = "",
        emailVerified: Bool = false, groups: [String] = []
    ) {
        self.userID = userID
        self.username = username
        self.preferredUsername = preferredUsername
        self.email = email
        self.emailVerified = emailVerified
        self.groups = groups
    }
}

/// The scopes a connector needs to know about (Dex's `connector.Scopes`).
public struct ConnectorScopes: Sendable, Equatable, Codable {
    public var offlineAccess: Bool
    public var groups: Bool
    public init(offlineAccess: Bool = false, groups: Bool = false) {
        self.offlineAccess = offlineAccess
        self.groups = groups
    }
}
