import Foundation

/// OAuth2/OIDC scopes Fedgate understands (Dex's `server/tokens/scopes.go`).
public enum Scope {
    public static let openID = "openid"
    public static let email = "email"
    public static let profile = "profile"
    public static let groups = "groups"
    public static let offlineAccess = "offline_access"
    public static let federatedID = "federated:id"
    /// `audience:server:client_id:<peer>` requests a token for a trusted peer client.
    public static let crossClientPrefix = "audience:server:client_id:"

    public static let known: Set<String> = [openID, email, profile, groups, offlineAccess, federatedID]

    /// Peer client IDs named by cross-client scopes.
    public static func peers(in scopes: [String]) -> [String] {
        scopes.compactMap { $0.hasPrefix(crossClientPrefix) ? String($0.dropFirst(crossClientPrefix.count)) : nil }
    }

    public static func connectorScopes(_ scopes: [String]) -> ConnectorScopes {
        ConnectorScopes(offlineAccess: scopes.contains(offlineAccess), groups: scopes.contains(groups))
    }
}
