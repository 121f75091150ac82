import Foundation
import SQLiteNIO

/// The table of every object type (names after Dex's SQL schema).
enum SQLiteTables {
    static let client = SQLiteTable<Client>("client", keyColumns: ["id"], key: { [.text($0.id)] })
    static let authRequest = SQLiteTable<AuthRequest>(
        "auth_request", keyColumns: ["id"], key: { [.text($0.id)] },
        indexColumns: ["expiry_us"], indexValues: { [.time($0.expiry)] })
    static let authCode = SQLiteTable<AuthCode>(
        "auth_code", keyColumns: ["id"], key: { [.text($0.id)] },
        indexColumns: ["expiry_us"], indexValues: { [.time($0.expiry)] })
    static let refreshToken = SQLiteTable<RefreshToken>(
        "refresh_token", keyColumns: ["id"], key: { [.text($0.id)] },
        indexColumns: ["created_at_us", "last_used_us"], indexValues: { [.time($0.createdAt), .time($0.lastUsed)] },
        remembersReads: true, batches: true)
    static let offlineSession = SQLiteTable<OfflineSession>(
        "offline_session", keyColumns: ["user_id", "conn_id"], key: { [.text($0.userID), .text($0.connectorID)] })
    /// Keyed by the lower-cased email; bodies are stored with the email lower-cased too (as Dex).
    /// Batched: a refresh grant through the password DB reads its user (Dex's `Refresh` re-checks it).
    static let password = SQLiteTable<Password>("password", keyColumns: ["email"], key: { [.text($0.email.lowercased())] },
                                                batches: true)
    /// The tables whose reads and writes batch.
    static let batched: [SQLiteRowBatches] = [refreshToken.batches, password.batches].compactMap { $0 }
    static let connector = SQLiteTable<ConnectorRecord>("connector", keyColumns: ["id"], key: { [.text($0.id)] })
    /// A single row with id 1.
    static let keys = SQLiteTable<Keys>("keys", keyColumns: ["id"], key: { _ in [.integer(1)] })
    static let deviceRequest = SQLiteTable<DeviceRequest>(
        "device_request", keyColumns: ["user_code"], key: { [.text($0.userCode)] },
        indexColumns: ["expiry_us"], indexValues: { [.time($0.expiry)] })
    static let loginThrottle = SQLiteTable<LoginThrottle>(
        "login_throttle", keyColumns: ["key"], key: { [.text($0.key)] },
        indexColumns: ["expiry_us"], indexValues: { [.time($0.expiry)] })
    static let deviceToken = SQLiteTable<DeviceToken>(
        "device_token", keyColumns: ["device_code"], key: { [.text($0.deviceCode)] },
        indexColumns: ["expiry_us"], indexValues: { [.time($0.expiry)] })
}

extension SQLiteStorage {
    // MARK: Keys

    public func getKeys() async throws -> Keys {
        do { return try await get(SQLiteTables.keys, key: [.integer(1)]) } catch let error as StorageError where error.isNotFound { return Keys() }
    }

    public func updateKeys(_ update: @escaping @Sendable (inout Keys) throws -> Void) async throws {
        try await transaction {
            let existing = try await selectRow(SQLiteTables.keys, key: [.integer(1)])
            var keys = existing ?? Keys()
            try update(&keys)
            if existing == nil {
                _ = try await insertRow(SQLiteTables.keys, keys)
            } else {
                try await updateRow(SQLiteTables.keys, keys)
            }
        }
    }

    // MARK: Clients

    public func createClient(_ client: Client) async throws { try await create(SQLiteTables.client, client) }
    public func getClient(id: String) async throws -> Client { try await get(SQLiteTables.client, key: [.text(id)]) }
    public func updateClient(id: String, _ update: @escaping @Sendable (inout Client) throws -> Void) async throws {
        try await self.update(SQLiteTables.client, key: [.text(id)], update)
    }
    public func deleteClient(id: String) async throws { try await delete(SQLiteTables.client, key: [.text(id)]) }
    public func listClients() async throws -> [Client] { try await list(SQLiteTables.client) }

    // MARK: Auth requests

    public func createAuthRequest(_ request: AuthRequest) async throws { try await create(SQLiteTables.authRequest, request) }
    public func getAuthRequest(id: String) async throws -> AuthRequest {
        try await get(SQLiteTables.authRequest, key: [.text(id)])
    }
    public func updateAuthRequest(id: String, _ update: @escaping @Sendable (inout AuthRequest) throws -> Void) async throws {
        try await self.update(SQLiteTables.authRequest, key: [.text(id)], update)
    }
    public func deleteAuthRequest(id: String) async throws { try await delete(SQLiteTables.authRequest, key: [.text(id)]) }
    public func listAuthRequests() async throws -> [AuthRequest] { try await list(SQLiteTables.authRequest) }

    // MARK: Auth codes

    public func createAuthCode(_ code: AuthCode) async throws { try await create(SQLiteTables.authCode, code) }
    public func getAuthCode(id: String) async throws -> AuthCode { try await get(SQLiteTables.authCode, key: [.text(id)]) }
    public func deleteAuthCode(id: String) async throws { try await delete(SQLiteTables.authCode, key: [.text(id)]) }
    public func listAuthCodes() async throws -> [AuthCode] { try await list(SQLiteTables.authCode) }

    // MARK: Refresh tokens

    public func createRefreshToken(_ token: RefreshToken) async throws { try await create(SQLiteTables.refreshToken, token) }
    public func getRefreshToken(id: String) async throws -> RefreshToken {
        try await get(SQLiteTables.refreshToken, key: [.text(id)])
    }
    /// One statement for both rows, batched with concurrent grants (`SQLiteTokenUserReads`).
    public func getRefreshTokenWithUser(id: String, passwordConnectorID: String) async throws -> RefreshTokenWithUser {
        let request = TokenUserRead(id: id, passwordConnectorID: passwordConnectorID)
        guard let row = try await tokenUserReads.submit(request, fits: { batch, candidate in
            candidate.passwordConnectorID == batch[0].passwordConnectorID
        }, run: { batch in
            try await SQLiteTokenUserReads.run(batch, on: self)
        }) else { throw StorageError.notFound }
        let read = try row.decoded(passwordConnectorID: passwordConnectorID)
        recentReads.remember(SQLiteTables.refreshToken.slot([.text(id)]), text: row.token, object: read.token)
        return read
    }
    public func updateRefreshToken(id: String, _ update: @escaping @Sendable (inout RefreshToken) throws -> Void) async throws {
        try await self.update(SQLiteTables.refreshToken, key: [.text(id)], update)
    }
    public func deleteRefreshToken(id: String) async throws { try await delete(SQLiteTables.refreshToken, key: [.text(id)]) }
    public func listRefreshTokens() async throws -> [RefreshToken] { try await list(SQLiteTables.refreshToken) }

    // MARK: Passwords

    public func createPassword(_ password: Password) async throws {
        var normalized = password
        normalized.email = password.email.lowercased()
        try await create(SQLiteTables.password, normalized)
    }
    public func getPassword(email: String) async throws -> Password {
        try await get(SQLiteTables.password, key: [.text(email.lowercased())])
    }
    public func updatePassword(email: String, _ update: @escaping @Sendable (inout Password) throws -> Void) async throws {
        try await self.update(SQLiteTables.password, key: [.text(email.lowercased())]) { password in
            try update(&password)
            password.email = password.email.lowercased()
        }
    }
    public func deletePassword(email: String) async throws {
        try await delete(SQLiteTables.password, key: [.text(email.lowercased())])
    }
    public func listPasswords() async throws -> [Password] { try await list(SQLiteTables.password) }

    // MARK: Connectors

    public func createConnector(_ connector: ConnectorRecord) async throws { try await create(SQLiteTables.connector, connector) }
    public func getConnector(id: String) async throws -> ConnectorRecord {
        try await get(SQLiteTables.connector, key: [.text(id)])
    }
    public func updateConnector(id: String, _ update: @escaping @Sendable (inout ConnectorRecord) throws -> Void) async throws {
        try await self.update(SQLiteTables.connector, key: [.text(id)], update)
    }
    public func deleteConnector(id: String) async throws { try await delete(SQLiteTables.connector, key: [.text(id)]) }
    public func listConnectors() async throws -> [ConnectorRecord] { try await list(SQLiteTables.connector) }

    // MARK: Device flow

    public func createDeviceRequest(_ request: DeviceRequest) async throws {
        try await create(SQLiteTables.deviceRequest, request)
    }
    public func getDeviceRequest(userCode: String) async throws -> DeviceRequest {
        try await get(SQLiteTables.deviceRequest, key: [.text(userCode)])
    }
    public func createDeviceToken(_ token: DeviceToken) async throws { try await create(SQLiteTables.deviceToken, token) }
    public func getDeviceToken(deviceCode: String) async throws -> DeviceToken {
        try await get(SQLiteTables.deviceToken, key: [.text(deviceCode)])
    }
    public func updateDeviceToken(deviceCode: String, _ update: @escaping @Sendable (inout DeviceToken) throws -> Void) async throws {
        try await self.update(SQLiteTables.deviceToken, key: [.text(deviceCode)], update)
    }
    public func listDeviceRequests() async throws -> [DeviceRequest] { try await list(SQLiteTables.deviceRequest) }
    public func listDeviceTokens() async throws -> [DeviceToken] { try await list(SQLiteTables.deviceToken) }

    // MARK: Login throttles

    public func createLoginThrottle(_ throttle: LoginThrottle) async throws { try await create(SQLiteTables.loginThrottle, throttle) }
    public func getLoginThrottle(key: String) async throws -> LoginThrottle {
        try await get(SQLiteTables.loginThrottle, key: [.text(key)])
    }
    public func updateLoginThrottle(key: String, _ update: @escaping @Sendable (inout LoginThrottle) throws -> Void) async throws {
        try await self.update(SQLiteTables.loginThrottle, key: [.text(key)], update)
    }
    public func deleteLoginThrottle(key: String) async throws { try await delete(SQLiteTables.loginThrottle, key: [.text(key)]) }
    public func listLoginThrottles() async throws -> [LoginThrottle] { try await list(SQLiteTables.loginThrottle) }
}
