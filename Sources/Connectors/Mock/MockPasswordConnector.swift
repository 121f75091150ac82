import FedgateCore
import Foundation

/// Dex's `mockPassword` connector (`connector/mock/connectortest.go` `passwordConnector`): one
/// username and password from the config; the login returns a fixed fake user.
public struct MockPasswordConnector: PasswordConnector, RefreshConnector {
    public let id: String
    private let username: String
    private let password: String

    /// Dex's `Prompt()` is empty and its password page then shows "Username"; Fedgate names it directly.
    public var prompt: String { "Username" }

    /// The identity Dex returns. Unlike `mockCallback`, Dex gives this user no groups and no
    /// connector data.
    public static let identity = UpstreamIdentity(
        userID: "0-385-28089-0", username: "Kilgore Trout", email: "kilgore@kilgore.trout", emailVerified: true
    )

    public init(id: String, username: String, password: String) {
        self.id = id
        self.username = username
        self.password = password
    }

    /// Succeeds only for exactly the configured pair. Both halves are always compared, in constant
    /// time, so timing reveals neither which half was wrong nor how much of it matched.
    public func login(username: String, password: String, scopes: ConnectorScopes) async throws -> UpstreamIdentity? {
        let userMatches = ConstantTime.equals(username, self.username)
        let passwordMatches = ConstantTime.equals(password, self.password)
        guard userMatches, passwordMatches, !self.password.isEmpty else { return nil }
        return Self.identity
    }

    /// There is no upstream to re-check: Dex hands the stored identity back unchanged.
    public func refresh(scopes: ConnectorScopes, identity: UpstreamIdentity) async throws -> UpstreamIdentity {
        identity
    }
}
