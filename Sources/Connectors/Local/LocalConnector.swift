import FedgateCore
import Foundation
import Logging

/// Dex's built-in password DB connector (`server/server.go` `passwordDB`): users from
/// `staticPasswords` and the gRPC password API, looked up by email and checked with bcrypt.
///
/// The connector never sees storage: the gateway lends it a ``PasswordDirectory``.
public struct LocalConnector: PasswordConnector, RefreshConnector {
    public let id: String
    /// Dex labels the username field of its password DB "Email Address".
    public var prompt: String { "Email Address" }

    private let directory: any PasswordDirectory
    private let logger: Logger

    /// A well-formed cost-10 hash (of a random string nobody knows) that unknown users are checked
    /// against, so a failed login costs one bcrypt verification whether or not the email exists
    /// and response time does not reveal which emails have accounts.
    static let timingDummyHash = "$2b$10$sxrIDd3CgSuiICOzL3stHugOUM8fa1MVXjyj7YDeux3o/9zcoFPdm"

    public init(id: String, directory: any PasswordDirectory, logger: Logger = Logger(label: "fedgate.connector.local")) {
        self.id = id
        self.directory = directory
        self.logger = logger
    }

    /// Returns nil for an empty password, an unknown email or a wrong password (Dex's
    /// `validPassword == false`). Throws when the directory cannot be read, or when the stored hash
    /// breaks Dex's cost policy (10...16): Dex refuses such logins with an error, not as a bad password.
    public func login(username: String, password: String, scopes: ConnectorScopes) async throws -> UpstreamIdentity? {
        guard !password.isEmpty else { return nil }
        let email = username.lowercased()
        guard let user = try await lookUp(email: email) else {
            _ = await BCrypt.verifyAsync(password: password, hash: Self.timingDummyHash)
            return nil
        }
        guard BCrypt.isValid(user.hash) else {
            logger.error("stored password hash is malformed or its bcrypt cost is outside 10...16", metadata: ["connector": "\(id)"])
            throw ConnectorError.upstreamError("the stored password for this user cannot be used; ask an administrator to reset it")
        }
        guard await BCrypt.verifyAsync(password: password, hash: user.hash) else { return nil }
        return identity(of: user)
    }

    /// Re-reads the user so deletions and group changes take effect on refresh. As in Dex, a user
    /// re-created under the same email with another user ID counts as gone.
    public func refresh(scopes: ConnectorScopes, identity: UpstreamIdentity) async throws -> UpstreamIdentity {
        guard let user = try await lookUp(email: identity.email.lowercased()), user.userID == identity.userID else {
            throw ConnectorError.userNotFound()
        }
        var refreshed = self.identity(of: user)
        refreshed.connectorData = identity.connectorData
        return refreshed
    }

    private func identity(of user: LocalUser) -> UpstreamIdentity {
        UpstreamIdentity(
            userID: user.userID, username: user.username, preferredUsername: user.preferredUsername,
            email: user.email, emailVerified: user.emailVerified, groups: user.groups
        )
    }

    /// Directory faults other than a `ConnectorError` mean the password DB cannot be asked (503).
    private func lookUp(email: String) async throws -> LocalUser? {
        do {
            return try await directory.user(email: email)
        } catch let error as ConnectorError {
            throw error
        } catch {
            logger.error("password directory lookup failed", metadata: ["connector": "\(id)", "error": "\(error)"])
            throw ConnectorError.unreachable("the password database is unavailable")
        }
    }
}
