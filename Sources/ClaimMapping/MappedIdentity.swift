import FedgateCore
import Foundation

/// The identity as it moves through the pipeline: the token-facing fields rules change, next to
/// the untouched upstream identity they read attributes from. Reading from `upstream` means rules
/// compose without order surprises (`usernameAttr: email` and `emailAttr: username` swap cleanly).
public struct MappedIdentity: Sendable, Equatable {
    /// What the connector returned; never changed by rules.
    public let upstream: UpstreamIdentity
    public var userID: String
    public var username: String
    public var preferredUsername: String
    public var email: String
    public var emailVerified: Bool
    public var groups: [String]

    public init(_ upstream: UpstreamIdentity) {
        self.upstream = upstream
        userID = upstream.userID
        username = upstream.username
        preferredUsername = upstream.preferredUsername
        email = upstream.email
        emailVerified = upstream.emailVerified
        groups = upstream.groups
    }

    /// The upstream value of an attribute: an identity field (`userID`, `username`,
    /// `preferredUsername`, `email`) or else the first value of that raw claim. Nil when absent or empty.
    public func attribute(_ name: String) -> String? {
        let value: String?
        switch name {
        case "userID": value = upstream.userID
        case "username": value = upstream.username
        case "preferredUsername": value = upstream.preferredUsername
        case "email": value = upstream.email
        default: value = upstream.rawClaims[name]?.first
        }
        guard let value, !value.isEmpty else { return nil }
        return value
    }

    /// Every upstream value of a multi-valued attribute: `groups` is the identity's groups,
    /// anything else a raw claim (empty when absent).
    public func attributeValues(_ name: String) -> [String] {
        name == "groups" ? upstream.groups : (upstream.rawClaims[name] ?? [])
    }

    /// The claims the gateway stores and signs.
    public var claims: Claims {
        Claims(
            userID: userID, username: username, preferredUsername: preferredUsername,
            email: email, emailVerified: emailVerified, groups: groups
        )
    }
}
