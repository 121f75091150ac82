import Foundation

/// Overlays the clients, passwords and connectors declared in the config file on a backend,
/// as Dex's `storage/static.go` (`WithStaticClients`, `WithStaticPasswords`, `WithStaticConnectors`).
///
/// Static objects are read-only: reads and lists see them (a static object hides a stored one
/// with the same key), while creating, updating or deleting one throws
/// `StorageError.corrupt("static client <id> is read-only")` so the config stays the single source
/// of truth. Passwords are matched by lower-cased email. Every other call goes to the backend.
public struct StaticOverlayStorage: GatewayStorage {
    public let backend: any GatewayStorage
    private let clients: [String: Client]
    private let passwords: [String: Password]
    private let connectors: [String: ConnectorRecord]

    /// When the config repeats a key, the last entry wins (as Dex builds its maps).
    public init(backend: any GatewayStorage, clients: [Client] = [], passwords: [Password] = [],
                connectors: [ConnectorRecord] = []) {
        self.backend = backend
        self.clients = Dictionary(clients.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
        self.passwords = Dictionary(passwords.map { password in
            var normalized = password
            normalized.email = password.email.lowercased()
            return (normalized.email, normalized)
        }, uniquingKeysWith: { _, last in last })
        self.connectors = Dictionary(connectors.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
    }

    private static func readOnly(_ kind: String, _ key: String) -> StorageError {
        StorageError.corrupt("static \(kind) \(key) is read-only")
    }

    /// Stored objects, with static ones replacing or added to them, sorted by key.
    private static func merge<T>(_ stored: [T], _ statics: [String: T], key: (T) -> String) -> [T] {
        var byKey = Dictionary(stored.map { (key($0), $0) }, uniquingKeysWith: { first, _ in first })
        byKey.merge(statics) { _, staticValue in staticValue }
        return byKey.sorted { $0.key < $1.key }.map(\.value)
    }

    // MARK: Clients

    public func createClient(_ client: Client) async throws {
        guard clients[client.id] == nil else { throw Self.readOnly("client", client.id) }
        try await backend.createClient(client)
    }
    public func getClient(id: String) async throws -> Client {
        if let client = clients[id] { return client }
        return try await backend.getClient(id: id)
    }
    public func updateClient(id: String, _ update: @escaping @Sendable (inout Client) throws -> Void) async throws {
        guard clients[id] == nil else { throw Self.readOnly("client", id) }
        try await backend.updateClient(id: id, update)
    }
    public func deleteClient(id: String) async throws {
        guard clients[id] == nil else { throw Self.readOnly("client", id) }
        try await backend.deleteClient(id: id)
    }
    public func listClients() async throws -> [Client] {
        Self.merge(try await backend.listClients(), clients, key: \.id)
    }

    // MARK: Passwords

    public func createPassword(_ password: Password) async throws {
        let email = password.email.lowercased()
        guard passwords[email] == nil else { throw Self.readOnly("password", email) }
        try await backend.createPassword(password)
    }
    public func getPassword(email: String) async throws -> Password {
        if let password = passwords[email.lowercased()] { return password }
        return try await backend.getPassword(email: email)
    }
    public func updatePassword(email: String, _ update: @escaping @Sendable (inout Password) throws -> Void) async throws {
        guard passwords[email.lowercased()] == nil else { throw Self.readOnly("password", email.lowercased()) }
        try await backend.updatePassword(email: email, update)
    }
    public func deletePassword(email: String) async throws {
        guard passwords[email.lowercased()] == nil else { throw Self.readOnly("password", email.lowercased()) }
        try await backend.deletePassword(email: email)
    }
    public func listPasswords() async throws -> [Password] {
        Self.merge(try await backend.listPasswords(), passwords, key: { $0.email.lowercased() })
    }

    // MARK: Connectors

    public func createConnector(_ connector: ConnectorRecord) async throws {
        guard connectors[connector.id] == nil else { throw Self.readOnly("connector", connector.id) }
        try await backend.createConnector(connector)
    }
    public func getConnector(id: String) async throws -> ConnectorRecord {
        if let connector = connectors[id] { return connector }
        return try await backend.getConnector(id: id)
    }
    public func updateConnector(id: String, _ update: @escaping @Sendable (inout ConnectorRecord) throws -> Void) async throws {
        guard connectors[id] == nil else { throw Self.readOnly("connector", id) }
        try await backend.updateConnector(id: id, update)
    }
    public func deleteConnector(id: String) async throws {
        guard connectors[id] == nil else { throw Self.readOnly("connector", id) }
        try await backend.deleteConnector(id: id)
    }
    public func listConnectors() async throws -> [ConnectorRecord] {
        Self.merge(try await backend.listConnectors(), connectors, key: \.id)
    }

    // MARK: Everything else goes to the backend

    public func getKeys() async throws -> Keys { try await backend.getKeys() }
    public func updateKeys(_ update: @escaping @Sendable (inout Keys) throws -> Void) async throws {
        try await backend.updateKeys(update)
    }

    public func createAuthRequest(_ request: AuthRequest) async throws { try await backend.createAuthRequest(request) }
    public func getAuthRequest(id: String) async throws -> AuthRequest { try await backend.getAuthRequest(id: id) }
    public func updateAuthRequest(id: String, _ update: @escaping @Sendable (inout AuthRequest) throws -> Void) async throws {
        try await backend.updateAuthRequest(id: id, update)
    }
    public func deleteAuthRequest(id: String) async throws { try await backend.deleteAuthRequest(id: id) }
    public func listAuthRequests() async throws -> [AuthRequest] { try await backend.listAuthRequests() }

    public func createAuthCode(_ code: AuthCode) async throws { try await backend.createAuthCode(code) }
    public func getAuthCode(id: String) async throws -> AuthCode { try await backend.getAuthCode(id: id) }
    public func deleteAuthCode(id: String) async throws { try await backend.deleteAuthCode(id: id) }
    public func listAuthCodes() async throws -> [AuthCode] { try await backend.listAuthCodes() }

    public func createRefreshToken(_ token: RefreshToken) async throws { try await backend.createRefreshToken(token) }
    public func getRefreshToken(id: String) async throws -> RefreshToken { try await backend.getRefreshToken(id: id) }
    /// A user declared in the config file wins over the backend's row, as in `getPassword`.
    public func getRefreshTokenWithUser(id: String, passwordConnectorID: String) async throws -> RefreshTokenWithUser {
        var result = try await backend.getRefreshTokenWithUser(id: id, passwordConnectorID: passwordConnectorID)
        if result.token.connectorID == passwordConnectorID, let user = passwords[result.token.claims.email.lowercased()] {
            result.user = user
        }
        return result
    }
    public func updateRefreshToken(id: String, _ update: @escaping @Sendable (inout RefreshToken) throws -> Void) async throws {
        try await backend.updateRefreshToken(id: id, update)
    }
    public func deleteRefreshToken(id: String) async throws { try await backend.deleteRefreshToken(id: id) }
    public func listRefreshTokens() async throws -> [RefreshToken] { try await backend.listRefreshTokens() }

    public func createOfflineSession(_ session: OfflineSession) async throws { try await backend.createOfflineSession(session) }
    public func getOfflineSession(userID: String, connectorID: String) async throws -> OfflineSession {
        try await backend.getOfflineSession(userID: userID, connectorID: connectorID)
    }
    public func updateOfflineSession(
        userID: String, connectorID: String, _ update: @escaping @Sendable (inout OfflineSession) throws -> Void
    ) async throws {
        try await backend.updateOfflineSession(userID: userID, connectorID: connectorID, update)
    }
    public func deleteOfflineSession(userID: String, connectorID: String) async throws {
        try await backend.deleteOfflineSession(userID: userID, connectorID: connectorID)
    }
    public func listOfflineSessions(userID: String) async throws -> [OfflineSession] {
        try await backend.listOfflineSessions(userID: userID)
    }
    public func listOfflineSessions() async throws -> [OfflineSession] { try await backend.listOfflineSessions() }

    public func createDeviceRequest(_ request: DeviceRequest) async throws { try await backend.createDeviceRequest(request) }
    public func getDeviceRequest(userCode: String) async throws -> DeviceRequest {
        try await backend.getDeviceRequest(userCode: userCode)
    }
    public func createDeviceToken(_ token: DeviceToken) async throws { try await backend.createDeviceToken(token) }
    public func getDeviceToken(deviceCode: String) async throws -> DeviceToken {
        try await backend.getDeviceToken(deviceCode: deviceCode)
    }
    public func updateDeviceToken(deviceCode: String, _ update: @escaping @Sendable (inout DeviceToken) throws -> Void) async throws {
        try await backend.updateDeviceToken(deviceCode: deviceCode, update)
    }
    public func listDeviceRequests() async throws -> [DeviceRequest] { try await backend.listDeviceRequests() }
    public func listDeviceTokens() async throws -> [DeviceToken] { try await backend.listDeviceTokens() }

    public func garbageCollect(now: Date, refreshPolicy: RefreshExpiryPolicy) async throws -> GarbageCollectionResult {
        try await backend.garbageCollect(now: now, refreshPolicy: refreshPolicy)
    }
    public func healthCheck() async throws { try await backend.healthCheck() }
    public func close() async throws { try await backend.close() }

    // MARK: Login throttles (never static)

    public func createLoginThrottle(_ throttle: LoginThrottle) async throws { try await backend.createLoginThrottle(throttle) }
    public func getLoginThrottle(key: String) async throws -> LoginThrottle { try await backend.getLoginThrottle(key: key) }
    public func updateLoginThrottle(key: String, _ update: @escaping @Sendable (inout LoginThrottle) throws -> Void) async throws {
        try await backend.updateLoginThrottle(key: key, update)
    }
    public func deleteLoginThrottle(key: String) async throws { try await backend.deleteLoginThrottle(key: key) }
    public func listLoginThrottles() async throws -> [LoginThrottle] { try await backend.listLoginThrottles() }
}
