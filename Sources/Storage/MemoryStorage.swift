import Foundation

/// An in-process backend (Dex `storage/memory`), for tests and single-replica development.
///
/// Every method runs on the actor and an updater is synchronous, so a read-modify-write has no
/// suspension point inside it: updates are atomic and serialised without locks. Updaters run
/// exactly once. Nothing survives the process.
public actor MemoryStorage: GatewayStorage {
    private struct SessionKey: Hashable { var userID: String; var connectorID: String }

    private var clients: [String: Client] = [:]
    private var authRequests: [String: AuthRequest] = [:]
    private var authCodes: [String: AuthCode] = [:]
    private var refreshTokens: [String: RefreshToken] = [:]
    private var offlineSessions: [SessionKey: OfflineSession] = [:]
    private var passwords: [String: Password] = [:]
    private var connectors: [String: ConnectorRecord] = [:]
    private var deviceRequests: [String: DeviceRequest] = [:]
    private var deviceTokens: [String: DeviceToken] = [:]
    private var loginThrottles: [String: LoginThrottle] = [:]
    private var keys = Keys()

    public init() {}

    // MARK: Generic helpers

    private static func insert<K: Hashable, V>(_ value: V, at key: K, into table: inout [K: V]) throws {
        guard table[key] == nil else { throw StorageError.alreadyExists }
        table[key] = value
    }

    private static func get<K: Hashable, V>(_ key: K, from table: [K: V]) throws -> V {
        guard let value = table[key] else { throw StorageError.notFound }
        return value
    }

    /// Applies `update` to a copy and stores it only if the updater returns normally and kept the key.
    private static func update<K: Hashable, V>(
        _ key: K, in table: inout [K: V], keyOf: (V) -> K, _ update: (inout V) throws -> Void
    ) throws {
        guard var value = table[key] else { throw StorageError.notFound }
        try update(&value)
        guard keyOf(value) == key else { throw StorageError.corrupt("an updater must not change the object's key") }
        table[key] = value
    }

    private static func delete<K: Hashable, V>(_ key: K, from table: inout [K: V]) throws {
        guard table.removeValue(forKey: key) != nil else { throw StorageError.notFound }
    }

    // MARK: Keys

    public func getKeys() async throws -> Keys { keys }

    public func updateKeys(_ update: @escaping @Sendable (inout Keys) throws -> Void) async throws {
        var copy = keys
        try update(&copy)
        keys = copy
    }

    // MARK: Clients

    public func createClient(_ client: Client) async throws { try Self.insert(client, at: client.id, into: &clients) }
    public func getClient(id: String) async throws -> Client { try Self.get(id, from: clients) }
    public func updateClient(id: String, _ update: @escaping @Sendable (inout Client) throws -> Void) async throws {
        try Self.update(id, in: &clients, keyOf: \.id, update)
    }
    public func deleteClient(id: String) async throws { try Self.delete(id, from: &clients) }
    public func listClients() async throws -> [Client] { clients.values.sorted { $0.id < $1.id } }

    // MARK: Auth requests

    public func createAuthRequest(_ request: AuthRequest) async throws {
        try Self.insert(request, at: request.id, into: &authRequests)
    }
    public func getAuthRequest(id: String) async throws -> AuthRequest { try Self.get(id, from: authRequests) }
    public func updateAuthRequest(id: String, _ update: @escaping @Sendable (inout AuthRequest) throws -> Void) async throws {
        try Self.update(id, in: &authRequests, keyOf: \.id, update)
    }
    public func deleteAuthRequest(id: String) async throws { try Self.delete(id, from: &authRequests) }
    public func listAuthRequests() async throws -> [AuthRequest] { authRequests.values.sorted { $0.id < $1.id } }

    // MARK: Auth codes

    public func createAuthCode(_ code: AuthCode) async throws { try Self.insert(code, at: code.id, into: &authCodes) }
    public func getAuthCode(id: String) async throws -> AuthCode { try Self.get(id, from: authCodes) }
    public func deleteAuthCode(id: String) async throws { try Self.delete(id, from: &authCodes) }
    public func listAuthCodes() async throws -> [AuthCode] { authCodes.values.sorted { $0.id < $1.id } }

    // MARK: Refresh tokens

    public func createRefreshToken(_ token: RefreshToken) async throws {
        try Self.insert(token, at: token.id, into: &refreshTokens)
    }
    public func getRefreshToken(id: String) async throws -> RefreshToken { try Self.get(id, from: refreshTokens) }
    public func updateRefreshToken(id: String, _ update: @escaping @Sendable (inout RefreshToken) throws -> Void) async throws {
        try Self.update(id, in: &refreshTokens, keyOf: \.id, update)
    }
    public func deleteRefreshToken(id: String) async throws { try Self.delete(id, from: &refreshTokens) }
    public func listRefreshTokens() async throws -> [RefreshToken] { refreshTokens.values.sorted { $0.id < $1.id } }

    // MARK: Offline sessions

    public func createOfflineSession(_ session: OfflineSession) async throws {
        try Self.insert(session, at: SessionKey(userID: session.userID, connectorID: session.connectorID), into: &offlineSessions)
    }
    public func getOfflineSession(userID: String, connectorID: String) async throws -> OfflineSession {
        try Self.get(SessionKey(userID: userID, connectorID: connectorID), from: offlineSessions)
    }
    public func updateOfflineSession(
        userID: String, connectorID: String, _ update: @escaping @Sendable (inout OfflineSession) throws -> Void
    ) async throws {
        try Self.update(SessionKey(userID: userID, connectorID: connectorID), in: &offlineSessions,
                        keyOf: { SessionKey(userID: $0.userID, connectorID: $0.connectorID) }, update)
    }
    public func deleteOfflineSession(userID: String, connectorID: String) async throws {
        try Self.delete(SessionKey(userID: userID, connectorID: connectorID), from: &offlineSessions)
    }
    public func listOfflineSessions(userID: String) async throws -> [OfflineSession] {
        offlineSessions.values.filter { $0.userID == userID }.sorted { $0.connectorID < $1.connectorID }
    }
    public func listOfflineSessions() async throws -> [OfflineSession] {
        offlineSessions.values.sorted { ($0.userID, $0.connectorID) < ($1.userID, $1.connectorID) }
    }

    // MARK: Passwords (keyed by lower-cased email, as Dex)

    public func createPassword(_ password: Password) async throws {
        var normalized = password
        normalized.email = password.email.lowercased()
        try Self.insert(normalized, at: normalized.email, into: &passwords)
    }
    public func getPassword(email: String) async throws -> Password { try Self.get(email.lowercased(), from: passwords) }
    public func updatePassword(email: String, _ update: @escaping @Sendable (inout Password) throws -> Void) async throws {
        try Self.update(email.lowercased(), in: &passwords, keyOf: { $0.email.lowercased() }) { password in
            try update(&password)
            password.email = password.email.lowercased()
        }
    }
    public func deletePassword(email: String) async throws { try Self.delete(email.lowercased(), from: &passwords) }
    public func listPasswords() async throws -> [Password] { passwords.values.sorted { $0.email < $1.email } }

    // MARK: Connectors

    public func createConnector(_ connector: ConnectorRecord) async throws {
        try Self.insert(connector, at: connector.id, into: &connectors)
    }
    public func getConnector(id: String) async throws -> ConnectorRecord { try Self.get(id, from: connectors) }
    public func updateConnector(id: String, _ update: @escaping @Sendable (inout ConnectorRecord) throws -> Void) async throws {
        try Self.update(id, in: &connectors, keyOf: \.id, update)
    }
    public func deleteConnector(id: String) async throws { try Self.delete(id, from: &connectors) }
    public func listConnectors() async throws -> [ConnectorRecord] { connectors.values.sorted { $0.id < $1.id } }

    // MARK: Device flow

    public func createDeviceRequest(_ request: DeviceRequest) async throws {
        try Self.insert(request, at: request.userCode, into: &deviceRequests)
    }
    public func getDeviceRequest(userCode: String) async throws -> DeviceRequest { try Self.get(userCode, from: deviceRequests) }
    public func createDeviceToken(_ token: DeviceToken) async throws {
        try Self.insert(token, at: token.deviceCode, into: &deviceTokens)
    }
    public func getDeviceToken(deviceCode: String) async throws -> DeviceToken { try Self.get(deviceCode, from: deviceTokens) }
    public func updateDeviceToken(deviceCode: String, _ update: @escaping @Sendable (inout DeviceToken) throws -> Void) async throws {
        try Self.update(deviceCode, in: &deviceTokens, keyOf: \.deviceCode, update)
    }
    public func listDeviceRequests() async throws -> [DeviceRequest] { deviceRequests.values.sorted { $0.userCode < $1.userCode } }
    public func listDeviceTokens() async throws -> [DeviceToken] { deviceTokens.values.sorted { $0.deviceCode < $1.deviceCode } }

    // MARK: Login throttles

    public func createLoginThrottle(_ throttle: LoginThrottle) async throws {
        try Self.insert(throttle, at: throttle.key, into: &loginThrottles)
    }
    public func getLoginThrottle(key: String) async throws -> LoginThrottle { try Self.get(key, from: loginThrottles) }
    public func updateLoginThrottle(key: String, _ update: @escaping @Sendable (inout LoginThrottle) throws -> Void) async throws {
        try Self.update(key, in: &loginThrottles, keyOf: \.key, update)
    }
    public func deleteLoginThrottle(key: String) async throws { try Self.delete(key, from: &loginThrottles) }
    public func listLoginThrottles() async throws -> [LoginThrottle] { loginThrottles.values.sorted { $0.key < $1.key } }

    // MARK: Maintenance

    public func garbageCollect(now: Date, refreshPolicy: RefreshExpiryPolicy) async throws -> GarbageCollectionResult {
        var result = GarbageCollectionResult()
        result.authRequests = Self.removeExpired(&authRequests, now: now, expiry: \.expiry)
        result.authCodes = Self.removeExpired(&authCodes, now: now, expiry: \.expiry)
        result.deviceRequests = Self.removeExpired(&deviceRequests, now: now, expiry: \.expiry)
        result.deviceTokens = Self.removeExpired(&deviceTokens, now: now, expiry: \.expiry)
        result.loginThrottles = Self.removeExpired(&loginThrottles, now: now, expiry: \.expiry)

        let dead = Set(refreshTokens.values.filter { refreshPolicy.isExpired($0, now: now) }.map(\.id))
        for id in dead { refreshTokens[id] = nil }
        result.refreshTokens = dead.count
        guard !dead.isEmpty else { return result }
        // Drop the references to the collected tokens; a session left with none goes too.
        for (key, session) in offlineSessions where session.refresh.values.contains(where: { dead.contains($0.id) }) {
            var pruned = session
            pruned.refresh = session.refresh.filter { !dead.contains($0.value.id) }
            if pruned.refresh.isEmpty {
                offlineSessions[key] = nil
                result.offlineSessions += 1
            } else {
                offlineSessions[key] = pruned
            }
        }
        return result
    }

    private static func removeExpired<K: Hashable, V>(_ table: inout [K: V], now: Date, expiry: KeyPath<V, Date>) -> Int {
        let before = table.count
        table = table.filter { $0.value[keyPath: expiry] >= now }
        return before - table.count
    }

    public func healthCheck() async throws {}

    public func close() async throws {}
}
