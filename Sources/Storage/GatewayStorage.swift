import Foundation

/// The one storage protocol every backend implements.
///
/// Updates take an `inout` updater that may run more than once (a backend retries it after a
/// lost compare-and-swap), so updaters must be pure functions of the value they are given.
/// An updater that throws aborts the update and the error propagates unchanged.
/// Reads of a missing object throw `StorageError.notFound`; creates of an existing key throw
/// `StorageError.alreadyExists`.
/// The narrow slice of storage that key rotation needs (so `Signing` can be tested alone).
public protocol KeyStorage: Sendable {
    /// Returns an empty `Keys()` when none were stored yet.
    func getKeys() async throws -> Keys
    /// Compare-and-swap update of the keys singleton; the updater may run several times.
    func updateKeys(_ update: @escaping @Sendable (inout Keys) throws -> Void) async throws
}

/// Listing every object type (`StorageReader`) is part of the contract, so any store can be the
/// source of `fedgate storage copy`.
public protocol GatewayStorage: KeyStorage, StorageReader {
    // Clients
    func createClient(_ client: Client) async throws
    func getClient(id: String) async throws -> Client
    func updateClient(id: String, _ update: @escaping @Sendable (inout Client) throws -> Void) async throws
    func deleteClient(id: String) async throws
    func listClients() async throws -> [Client]

    // Auth requests
    func createAuthRequest(_ request: AuthRequest) async throws
    func getAuthRequest(id: String) async throws -> AuthRequest
    func updateAuthRequest(id: String, _ update: @escaping @Sendable (inout AuthRequest) throws -> Void) async throws
    func deleteAuthRequest(id: String) async throws
    func listAuthRequests() async throws -> [AuthRequest]

    // Auth codes (no update: codes are immutable)
    func createAuthCode(_ code: AuthCode) async throws
    func getAuthCode(id: String) async throws -> AuthCode
    func deleteAuthCode(id: String) async throws
    func listAuthCodes() async throws -> [AuthCode]

    // Refresh tokens
    func createRefreshToken(_ token: RefreshToken) async throws
    func getRefreshToken(id: String) async throws -> RefreshToken
    /// The token and, when it was issued by the password DB connector `passwordConnectorID`, the
    /// password-DB user its claims name, read together where the backend can (a refresh grant
    /// re-reads that user next). `user` nil means "not read here": ask `getPassword`.
    func getRefreshTokenWithUser(id: String, passwordConnectorID: String) async throws -> RefreshTokenWithUser
    func updateRefreshToken(id: String, _ update: @escaping @Sendable (inout RefreshToken) throws -> Void) async throws
    func deleteRefreshToken(id: String) async throws
    func listRefreshTokens() async throws -> [RefreshToken]

    // Offline sessions, keyed by (userID, connectorID)
    func createOfflineSession(_ session: OfflineSession) async throws
    func getOfflineSession(userID: String, connectorID: String) async throws -> OfflineSession
    func updateOfflineSession(userID: String, connectorID: String, _ update: @escaping @Sendable (inout OfflineSession) throws -> Void) async throws
    func deleteOfflineSession(userID: String, connectorID: String) async throws
    func listOfflineSessions(userID: String) async throws -> [OfflineSession]
    /// Every session of every user, sorted by (userID, connectorID).
    func listOfflineSessions() async throws -> [OfflineSession]

    // Passwords, keyed by lower-cased email
    func createPassword(_ password: Password) async throws
    func getPassword(email: String) async throws -> Password
    func updatePassword(email: String, _ update: @escaping @Sendable (inout Password) throws -> Void) async throws
    func deletePassword(email: String) async throws
    func listPasswords() async throws -> [Password]

    // Connectors
    func createConnector(_ connector: ConnectorRecord) async throws
    func getConnector(id: String) async throws -> ConnectorRecord
    func updateConnector(id: String, _ update: @escaping @Sendable (inout ConnectorRecord) throws -> Void) async throws
    func deleteConnector(id: String) async throws
    func listConnectors() async throws -> [ConnectorRecord]

    // Device flow
    func createDeviceRequest(_ request: DeviceRequest) async throws
    func getDeviceRequest(userCode: String) async throws -> DeviceRequest
    func createDeviceToken(_ token: DeviceToken) async throws
    func getDeviceToken(deviceCode: String) async throws -> DeviceToken
    func updateDeviceToken(deviceCode: String, _ update: @escaping @Sendable (inout DeviceToken) throws -> Void) async throws
    func listDeviceRequests() async throws -> [DeviceRequest]
    func listDeviceTokens() async throws -> [DeviceToken]

    // Brute-force throttles, keyed by `LoginThrottle.key`
    func createLoginThrottle(_ throttle: LoginThrottle) async throws
    func getLoginThrottle(key: String) async throws -> LoginThrottle
    func updateLoginThrottle(key: String, _ update: @escaping @Sendable (inout LoginThrottle) throws -> Void) async throws
    func deleteLoginThrottle(key: String) async throws
    func listLoginThrottles() async throws -> [LoginThrottle]

    /// Removes expired auth requests, auth codes, device requests and tokens, refresh tokens that
    /// `refreshPolicy` says are expired, offline sessions left with no refresh token, and expired login throttles.
    func garbageCollect(now: Date, refreshPolicy: RefreshExpiryPolicy) async throws -> GarbageCollectionResult

    /// Cheap reachability check for `/healthz`.
    func healthCheck() async throws

    func close() async throws
}

/// A refresh token and the password-DB user read with it (`getRefreshTokenWithUser`).
public struct RefreshTokenWithUser: Sendable {
    public var token: RefreshToken
    /// The user's row as stored under the lower-cased email of `token.claims`, read in the same
    /// statement as the token; nil when it was not read that way (another connector, a backend
    /// without the combined read, or no such row: the caller then asks `getPassword`, which is
    /// the reference answer).
    public var user: Password?

    public init(token: RefreshToken, user: Password? = nil) {
        self.token = token
        self.user = user
    }
}

// The combined read's pieces shared by the backends that join (SQLite, PostgreSQL).

/// A refresh token's body and the key and body of the password row joined to it.
struct TokenUserRow: Sendable {
    let token: String
    let user: (key: String, body: String)?

    /// The decoded pair. The user is kept only if it is exactly the row
    /// `getPassword(email: claims.email.lowercased())` reads (SQL's `lower` may fold case
    /// differently from Swift); otherwise the caller reads it itself.
    func decoded(passwordConnectorID: String) throws -> RefreshTokenWithUser {
        let token = try StorageCodec.decode(RefreshToken.self, from: self.token)
        guard token.connectorID == passwordConnectorID, let user, user.key == token.claims.email.lowercased() else {
            return RefreshTokenWithUser(token: token)
        }
        return RefreshTokenWithUser(token: token, user: try StorageCodec.decode(Password.self, from: user.body))
    }
}

/// One refresh token read together with the password-DB user its claims name.
struct TokenUserRead: Sendable {
    let id: String
    let passwordConnectorID: String
}

extension GatewayStorage {
    /// Backends without a combined read: the token alone.
    public func getRefreshTokenWithUser(id: String, passwordConnectorID: String) async throws -> RefreshTokenWithUser {
        RefreshTokenWithUser(token: try await getRefreshToken(id: id))
    }
}
