import Foundation
import PostgresNIO

/// The table of every object type (names after Dex's SQL schema; layout as `SQLiteTables`).
enum PostgresTables {
    static let client = PostgresTable<Client>("client", keyColumns: ["id"], key: { [$0.id] })
    static let authRequest = PostgresTable<AuthRequest>(
        "auth_request", keyColumns: ["id"], key: { [$0.id] },
        indexColumns: ["expiry_us"], indexValues: { [.time($0.expiry)] })
    static let authCode = PostgresTable<AuthCode>(
        "auth_code", keyColumns: ["id"], key: { [$0.id] },
        indexColumns: ["expiry_us"], indexValues: { [.time($0.expiry)] })
    static let refreshToken = PostgresTable<RefreshToken>(
        "refresh_token", keyColumns: ["id"], key: { [$0.id] },
        indexColumns: ["created_at_us", "last_used_us"], indexValues: { [.time($0.createdAt), .time($0.lastUsed)] },
        remembersReads: true)
    static let offlineSession = PostgresTable<OfflineSession>(
        "offline_session", keyColumns: ["user_id", "conn_id"], key: { [$0.userID, $0.connectorID] })
    /// Keyed by the lower-cased email; bodies are stored with the email lower-cased too (as Dex).
    static let password = PostgresTable<Password>("password", keyColumns: ["email"], key: { [$0.email.lowercased()] })
    static let connector = PostgresTable<ConnectorRecord>("connector", keyColumns: ["id"], key: { [$0.id] })
    /// A single row with id `keys`.
    static let keys = PostgresTable<Keys>("keys", keyColumns: ["id"], key: { _ in [keysID] })
    static let keysID = "keys"
    static let deviceRequest = PostgresTable<DeviceRequest>(
        "device_request", keyColumns: ["user_code"], key: { [$0.userCode] },
        indexColumns: ["expiry_us"], indexValues: { [.time($0.expiry)] })
    static let deviceToken = PostgresTable<DeviceToken>(
        "device_token", keyColumns: ["device_code"], key: { [$0.deviceCode] },
        indexColumns: ["expiry_us"], indexValues: { [.time($0.expiry)] })
    static let loginThrottle = PostgresTable<LoginThrottle>(
        "login_throttle", keyColumns: ["key"], key: { [$0.key] },
        indexColumns: ["expiry_us"], indexValues: { [.time($0.expiry)] })
}

extension PostgresStorage {
    // MARK: Keys

    public func getKeys() async throws -> Keys {
        try await withConnection { try await self.selectRow(PostgresTables.keys, key: [PostgresTables.keysID], on: $0) } ?? Keys()
    }

    /// Creates the singleton on first use. Two replicas creating it at once conflict on the
    /// primary key inside SERIALIZABLE (40001), and the loser retries as an update.
    public func updateKeys(_ update: @escaping @Sendable (inout Keys) throws -> Void) async throws {
        try await updateLock.withLock(PostgresTables.keys.lockKey([PostgresTables.keysID])) {
            try await self.transaction { connection in
                let existing = try await self.selectRow(PostgresTables.keys, key: [PostgresTables.keysID], on: connection)
                var keys = existing ?? Keys()
                try update(&keys)
                if existing == nil {
                    guard try await self.insertRow(PostgresTables.keys, keys, on: connection) else {
                        throw PostgresRetryableFailure(sqlState: "23505")
                    }
                } else {
                    try await self.updateRow(PostgresTables.keys, keys, on: connection)
                }
            }
        }
    }

    // MARK: Clients

    public func createClient(_ client: Client) async throws { try await create(PostgresTables.client, client) }
    public func getClient(id: String) async throws -> Client { try await get(PostgresTables.client, key: [id]) }
    public func updateClient(id: String, _ update: @escaping @Sendable (inout Client) throws -> Void) async throws {
        try await self.update(PostgresTables.client, key: [id], update)
    }
    public func deleteClient(id: String) async throws { try await delete(PostgresTables.client, key: [id]) }
    public func listClients() async throws -> [Client] { try await list(PostgresTables.client) }

    // MARK: Auth requests

    public func createAuthRequest(_ request: AuthRequest) async throws { try await create(PostgresTables.authRequest, request) }
    public func getAuthRequest(id: String) async throws -> AuthRequest {
        try await get(PostgresTables.authRequest, key: [id])
    }
    public func updateAuthRequest(id: String, _ update: @escaping @Sendable (inout AuthRequest) throws -> Void) async throws {
        try await self.update(PostgresTables.authRequest, key: [id], update)
    }
    public func deleteAuthRequest(id: String) async throws { try await delete(PostgresTables.authRequest, key: [id]) }
    public func listAuthRequests() async throws -> [AuthRequest] { try await list(PostgresTables.authRequest) }

    // MARK: Auth codes

    public func createAuthCode(_ code: AuthCode) async throws { try await create(PostgresTables.authCode, code) }
    public func getAuthCode(id: String) async throws -> AuthCode { try await get(PostgresTables.authCode, key: [id]) }
    public func deleteAuthCode(id: String) async throws { try await delete(PostgresTables.authCode, key: [id]) }
    public func listAuthCodes() async throws -> [AuthCode] { try await list(PostgresTables.authCode) }

    // MARK: Refresh tokens

    public func createRefreshToken(_ token: RefreshToken) async throws { try await create(PostgresTables.refreshToken, token) }
    public func getRefreshToken(id: String) async throws -> RefreshToken {
        try await get(PostgresTables.refreshToken, key: [id])
    }
    /// One statement for both rows, batched with concurrent grants (`PostgresBatches`).
    public func getRefreshTokenWithUser(id: String, passwordConnectorID: String) async throws -> RefreshTokenWithUser {
        guard let row = try await readTokenWithUser(id: id, passwordConnectorID: passwordConnectorID) else {
            throw StorageError.notFound
        }
        let read = try row.decoded(passwordConnectorID: passwordConnectorID)
        if PostgresTables.refreshToken.remembersReads {
            recentReads.remember(RecentReads.slot(PostgresTables.refreshToken.name, [id]), text: row.token, object: read.token)
        }
        return read
    }
    public func updateRefreshToken(id: String, _ update: @escaping @Sendable (inout RefreshToken) throws -> Void) async throws {
        try await self.update(PostgresTables.refreshToken, key: [id], update)
    }
    public func deleteRefreshToken(id: String) async throws { try await delete(PostgresTables.refreshToken, key: [id]) }
    public func listRefreshTokens() async throws -> [RefreshToken] { try await list(PostgresTables.refreshToken) }

    // MARK: Passwords

    public func createPassword(_ password: Password) async throws {
        var normalized = password
        normalized.email = password.email.lowercased()
        try await create(PostgresTables.password, normalized)
    }
    public func getPassword(email: String) async throws -> Password {
        try await get(PostgresTables.password, key: [email.lowercased()])
    }
    public func updatePassword(email: String, _ update: @escaping @Sendable (inout Password) throws -> Void) async throws {
        try await self.update(PostgresTables.password, key: [email.lowercased()]) { password in
            try update(&password)
            password.email = password.email.lowercased()
        }
    }
    public func deletePassword(email: String) async throws {
        try await delete(PostgresTables.password, key: [email.lowercased()])
    }
    public func listPasswords() async throws -> [Password] { try await list(PostgresTables.password) }

    // MARK: Connectors

    public func createConnector(_ connector: ConnectorRecord) async throws { try await create(PostgresTables.connector, connector) }
    public func getConnector(id: String) async throws -> ConnectorRecord {
        try await get(PostgresTables.connector, key: [id])
    }
    public func updateConnector(id: String, _ update: @escaping @Sendable (inout ConnectorRecord) throws -> Void) async throws {
        try await self.update(PostgresTables.connector, key: [id], update)
    }
    public func deleteConnector(id: String) async throws { try await delete(PostgresTables.connector, key: [id]) }
    public func listConnectors() async throws -> [ConnectorRecord] { try await list(PostgresTables.connector) }

    // MARK: Device flow

    public func createDeviceRequest(_ request: DeviceRequest) async throws {
        try await create(PostgresTables.deviceRequest, request)
    }
    public func getDeviceRequest(userCode: String) async throws -> DeviceRequest {
        try await get(PostgresTables.deviceRequest, key: [userCode])
    }
    public func createDeviceToken(_ token: DeviceToken) async throws { try await create(PostgresTables.deviceToken, token) }
    public func getDeviceToken(deviceCode: String) async throws -> DeviceToken {
        try await get(PostgresTables.deviceToken, key: [deviceCode])
    }
    public func updateDeviceToken(deviceCode: String, _ update: @escaping @Sendable (inout DeviceToken) throws -> Void) async throws {
        try await self.update(PostgresTables.deviceToken, key: [deviceCode], update)
    }
    public func listDeviceRequests() async throws -> [DeviceRequest] { try await list(PostgresTables.deviceRequest) }
    public func listDeviceTokens() async throws -> [DeviceToken] { try await list(PostgresTables.deviceToken) }

    // MARK: Login throttles

    public func createLoginThrottle(_ throttle: LoginThrottle) async throws { try await create(PostgresTables.loginThrottle, throttle) }
    public func getLoginThrottle(key: String) async throws -> LoginThrottle {
        try await get(PostgresTables.loginThrottle, key: [key])
    }
    public func updateLoginThrottle(key: String, _ update: @escaping @Sendable (inout LoginThrottle) throws -> Void) async throws {
        try await self.update(PostgresTables.loginThrottle, key: [key], update)
    }
    public func deleteLoginThrottle(key: String) async throws { try await delete(PostgresTables.loginThrottle, key: [key]) }
    public func listLoginThrottles() async throws -> [LoginThrottle] { try await list(PostgresTables.loginThrottle) }
}
