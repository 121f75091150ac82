import FedgateCore
import Foundation
import Logging

/// Dex's `ldap` connector (`connector/ldap/ldap.go`): a username and password checked against an
/// LDAP directory or Active Directory, with groups from group searches.
///
/// A login is one job on one pooled connection (``LDAPConnectionPool``): bind as the service
/// account, search the user with the username escaped per RFC 4515, require exactly one entry,
/// bind as that entry with the password, then (with the `groups` scope) bind back as the service
/// account and search the groups. A refresh repeats the search and the group lookup without a
/// password, so a deleted user or a removed group takes effect at the next refresh.
public struct LDAPConnector: PasswordConnector, RefreshConnector {
    public let id: String
    public let prompt: String
    private let directory: LDAPDirectory
    private let pool: LDAPConnectionPool
    private let logger: Logger

    /// Names longer than this are refused without asking the directory: no directory has such
    /// logins, and a 10 KB filter is only useful to an attacker.
    public static let maximumUsernameBytes = 1024

    init(id: String, config: LDAPConfig, endpoint: LDAPEndpoint, logger: Logger) {
        self.id = id
        prompt = config.usernamePrompt.isEmpty ? "Username" : config.usernamePrompt
        directory = LDAPDirectory(config: config, logger: logger)
        pool = LDAPConnectionPool(endpoint: endpoint, size: config.maxConnections, label: id, logger: logger)
        self.logger = logger
    }

    /// Returns nil for bad credentials: an empty password (refused before any bind, since LDAP
    /// treats a DN with an empty password as an unauthenticated bind that "succeeds", RFC 4513
    /// §5.1.2), a password with a NUL byte, an unknown username, or a wrong password. Throws
    /// `ConnectorError.unreachable` when the directory cannot be asked in time, and
    /// `.upstreamError` when the directory's answer cannot be used (several entries match).
    public func login(username: String, password: String, scopes: ConnectorScopes) async throws -> UpstreamIdentity? {
        guard !password.isEmpty, !password.utf8.contains(0) else { return nil }
        guard !username.isEmpty, username.utf8.count <= Self.maximumUsernameBytes else { return nil }
        let directory = self.directory
        return try await perform("login") { session -> UpstreamIdentity? in
            try directory.bindService(session)
            let entry: LDAPEntry
            switch try directory.findUser(session, username: username) {
            case .none:
                return nil
            case .many:
                throw ConnectorError.upstreamError("this username matches several directory entries; ask an administrator to make it unique")
            case .one(let found):
                entry = found
            }
            guard try directory.bindUser(session, dn: entry.dn, password: password) else { return nil }
            var identity = try directory.identity(from: entry)
            if scopes.groups {
                try directory.bindService(session)
                identity.groups = try directory.groups(session, user: entry)
            }
            identity.connectorData = try JSONEncoder().encode(LDAPRefreshData(username: username, dn: entry.dn))
            return identity
        }
    }

    /// Re-reads the user by the username used at login and their groups. The user is gone
    /// (`ConnectorError.userNotFound`, answered as `invalid_grant`) when no entry matches, when
    /// the username now resolves to another DN, or when the entry's id changed (deleted and
    /// re-created).
    public func refresh(scopes: ConnectorScopes, identity: UpstreamIdentity) async throws -> UpstreamIdentity {
        guard let data = identity.connectorData,
              let saved = try? JSONDecoder().decode(LDAPRefreshData.self, from: data) else {
            throw ConnectorError.userNotFound("this session has no directory reference; sign in again")
        }
        let directory = self.directory
        let previousID = identity.userID
        return try await perform("refresh") { session -> UpstreamIdentity in
            try directory.bindService(session)
            let entry: LDAPEntry
            switch try directory.findUser(session, username: saved.username) {
            case .none:
                throw ConnectorError.userNotFound("the user no longer exists in the directory")
            case .many:
                throw ConnectorError.refused("the username now matches several directory entries")
            case .one(let found):
                entry = found
            }
            guard LDAPDN.canonical(entry.dn) == LDAPDN.canonical(saved.dn) else {
                throw ConnectorError.userNotFound("the username now belongs to another directory entry")
            }
            var refreshed = try directory.identity(from: entry)
            guard refreshed.userID == previousID else {
                throw ConnectorError.userNotFound("the directory entry was replaced")
            }
            if scopes.groups { refreshed.groups = try directory.groups(session, user: entry) }
            refreshed.connectorData = data
            return refreshed
        }
    }

    /// Stops the pool threads and closes their connections. Optional: the pool also shuts down
    /// when the last copy of the connector is released.
    public func shutdown() { pool.shutdown() }

    /// Runs `body` on a pool connection and turns libldap failures into `ConnectorError`s:
    /// a lost connection, a timeout, or a server that says it is busy or unavailable is
    /// `unreachable` (503, and a refresh keeps its token); anything else is `upstreamError`.
    private func perform<T: Sendable>(_ what: String, _ body: @escaping @Sendable (LDAPSession) throws -> T) async throws -> T {
        let logger = self.logger
        do {
            return try await pool.run(body)
        } catch let failure as LDAPFailure {
            if failure.connectionLost || Self.transientCodes.contains(failure.code) {
                logger.warning("LDAP directory unreachable", metadata: ["operation": "\(what)", "error": "\(failure)"])
                throw ConnectorError.unreachable(failure.message)
            }
            logger.error("LDAP operation failed", metadata: ["operation": "\(what)", "error": "\(failure)"])
            throw ConnectorError.upstreamError(failure.message)
        } catch let error as ConnectorError {
            if error.code == .unreachable {
                logger.warning("LDAP directory unreachable", metadata: ["operation": "\(what)", "error": "\(error.reason)"])
            }
            throw error
        }
    }

    /// RFC 4511 result codes that say "not now" rather than "no": timeLimitExceeded (3),
    /// adminLimitExceeded (11), busy (51), unavailable (52), other (80), plus libldap's
    /// LDAP_LOCAL_ERROR (-2), LDAP_DECODING_ERROR (-4, a garbled answer) and LDAP_NO_MEMORY (-10).
    static let transientCodes: Set<Int32> = [3, 11, 51, 52, 80, -2, -4, -10]
}
