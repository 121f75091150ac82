import Foundation

extension EtcdStorage {
    // MARK: Keys

    public func getKeys() async throws -> Keys {
        try await read(EtcdKeys.keys, as: Keys.self)?.value ?? Keys()
    }

    public func updateKeys(_ update: @escaping @Sendable (inout Keys) throws -> Void) async throws {
        try await self.update(EtcdKeys.keys, as: Keys.self, createIfMissing: Keys(), update)
    }

    // MARK: Clients

    public func createClient(_ client: Client) async throws { try await create(EtcdKeys.client + client.id, client) }
    public func getClient(id: String) async throws -> Client { try await get(EtcdKeys.client + id, as: Client.self) }
    public func updateClient(id: String, _ update: @escaping @Sendable (inout Client) throws -> Void) async throws {
        try await self.update(EtcdKeys.client + id, as: Client.self, keepsKey: { $0.id == id }, update)
    }
    public func deleteClient(id: String) async throws { try await delete(EtcdKeys.client + id) }
    public func listClients() async throws -> [Client] { try await list(EtcdKeys.client, as: Client.self) }

    // MARK: Auth requests

    public func createAuthRequest(_ request: AuthRequest) async throws {
        try await create(EtcdKeys.authRequest + request.id, request)
    }
    public func getAuthRequest(id: String) async throws -> AuthRequest {
        try await get(EtcdKeys.authRequest + id, as: AuthRequest.self)
    }
    public func updateAuthRequest(id: String, _ update: @escaping @Sendable (inout AuthRequest) throws -> Void) async throws {
        try await self.update(EtcdKeys.authRequest + id, as: AuthRequest.self, keepsKey: { $0.id == id }, update)
    }
    public func deleteAuthRequest(id: String) async throws { try await delete(EtcdKeys.authRequest + id) }
    public func listAuthRequests() async throws -> [AuthRequest] { try await list(EtcdKeys.authRequest, as: AuthRequest.self) }

    // MARK: Auth codes

    public func createAuthCode(_ code: AuthCode) async throws { try await create(EtcdKeys.authCode + code.id, code) }
    public func getAuthCode(id: String) async throws -> AuthCode { try await get(EtcdKeys.authCode + id, as: AuthCode.self) }
    public func deleteAuthCode(id: String) async throws { try await delete(EtcdKeys.authCode + id) }
    public func listAuthCodes() async throws -> [AuthCode] { try await list(EtcdKeys.authCode, as: AuthCode.self) }

    // MARK: Refresh tokens

    public func createRefreshToken(_ token: RefreshToken) async throws {
        try await create(EtcdKeys.refreshToken + token.id, token)
    }
    public func getRefreshToken(id: String) async throws -> RefreshToken {
        try await get(EtcdKeys.refreshToken + id, as: RefreshToken.self)
    }
    public func updateRefreshToken(id: String, _ update: @escaping @Sendable (inout RefreshToken) throws -> Void) async throws {
        try await self.update(EtcdKeys.refreshToken + id, as: RefreshToken.self, keepsKey: { $0.id == id }, update)
    }
    public func deleteRefreshToken(id: String) async throws { try await delete(EtcdKeys.refreshToken + id) }
    public func listRefreshTokens() async throws -> [RefreshToken] {
        try await list(EtcdKeys.refreshToken, as: RefreshToken.self)
    }

    // MARK: Offline sessions

    public func createOfflineSession(_ session: OfflineSession) async throws {
        try await create(EtcdKeys.offlineSession(userID: session.userID, connectorID: session.connectorID), session)
    }
    public func getOfflineSession(userID: String, connectorID: String) async throws -> OfflineSession {
        try await get(EtcdKeys.offlineSession(userID: userID, connectorID: connectorID), as: OfflineSession.self)
    }
    public func updateOfflineSession(
        userID: String, connectorID: String, _ update: @escaping @Sendable (inout OfflineSession) throws -> Void
    ) async throws {
        try await self.update(EtcdKeys.offlineSession(userID: userID, connectorID: connectorID), as: OfflineSession.self,
                              keepsKey: { $0.userID == userID && $0.connectorID == connectorID }, update)
    }
    public func deleteOfflineSession(userID: String, connectorID: String) async throws {
        try await delete(EtcdKeys.offlineSession(userID: userID, connectorID: connectorID))
    }
    /// Dex's key is the lower-cased `userID|connID`, so the prefix narrows the scan and the exact
    /// (case-sensitive) user ID is checked on each value.
    public func listOfflineSessions(userID: String) async throws -> [OfflineSession] {
        try await list(EtcdKeys.offlineSession + (userID + "|").lowercased(), as: OfflineSession.self) {
            $0.userID == userID
        }
    }
    /// Sorted by the model's (userID, connectorID): etcd's key order is that of the lower-cased key.
    public func listOfflineSessions() async throws -> [OfflineSession] {
        try await list(EtcdKeys.offlineSession, as: OfflineSession.self)
            .sorted { ($0.userID, $0.connectorID) < ($1.userID, $1.connectorID) }
    }

    // MARK: Passwords

    public func createPassword(_ password: Password) async throws {
        var normalized = password
        normalized.email = password.email.lowercased()
        try await create(EtcdKeys.password(email: password.email), normalized)
    }
    public func getPassword(email: String) async throws -> Password {
        try await get(EtcdKeys.password(email: email), as: Password.self)
    }
    public func updatePassword(email: String, _ update: @escaping @Sendable (inout Password) throws -> Void) async throws {
        let lowered = email.lowercased()
        try await self.update(EtcdKeys.password(email: email), as: Password.self, keepsKey: { $0.email == lowered }) { password in
            try update(&password)
            password.email = password.email.lowercased()
        }
    }
    public func deletePassword(email: String) async throws { try await delete(EtcdKeys.password(email: email)) }
    public func listPasswords() async throws -> [Password] { try await list(EtcdKeys.password, as: Password.self) }

    // MARK: Connectors

    public func createConnector(_ connector: ConnectorRecord) async throws {
        try await create(EtcdKeys.connector + connector.id, connector)
    }
    public func getConnector(id: String) async throws -> ConnectorRecord {
        try await get(EtcdKeys.connector + id, as: ConnectorRecord.self)
    }
    public func updateConnector(id: String, _ update: @escaping @Sendable (inout ConnectorRecord) throws -> Void) async throws {
        try await self.update(EtcdKeys.connector + id, as: ConnectorRecord.self, keepsKey: { $0.id == id }, update)
    }
    public func deleteConnector(id: String) async throws { try await delete(EtcdKeys.connector + id) }
    public func listConnectors() async throws -> [ConnectorRecord] { try await list(EtcdKeys.connector, as: ConnectorRecord.self) }

    // MARK: Device flow

    public func createDeviceRequest(_ request: DeviceRequest) async throws {
        try await create(EtcdKeys.deviceRequest + request.userCode, request)
    }
    public func getDeviceRequest(userCode: String) async throws -> DeviceRequest {
        try await get(EtcdKeys.deviceRequest + userCode, as: DeviceRequest.self)
    }
    public func createDeviceToken(_ token: DeviceToken) async throws {
        try await create(EtcdKeys.deviceToken + token.deviceCode, token)
    }
    public func getDeviceToken(deviceCode: String) async throws -> DeviceToken {
        try await get(EtcdKeys.deviceToken + deviceCode, as: DeviceToken.self)
    }
    public func updateDeviceToken(deviceCode: String, _ update: @escaping @Sendable (inout DeviceToken) throws -> Void) async throws {
        try await self.update(EtcdKeys.deviceToken + deviceCode, as: DeviceToken.self,
                              keepsKey: { $0.deviceCode == deviceCode }, update)
    }
    public func listDeviceRequests() async throws -> [DeviceRequest] {
        try await list(EtcdKeys.deviceRequest, as: DeviceRequest.self)
    }
    public func listDeviceTokens() async throws -> [DeviceToken] { try await list(EtcdKeys.deviceToken, as: DeviceToken.self) }

    // MARK: Login throttles

    public func createLoginThrottle(_ throttle: LoginThrottle) async throws {
        try await create(EtcdKeys.loginThrottle + throttle.key, throttle)
    }
    public func getLoginThrottle(key: String) async throws -> LoginThrottle {
        try await get(EtcdKeys.loginThrottle + key, as: LoginThrottle.self)
    }
    public func updateLoginThrottle(key: String, _ update: @escaping @Sendable (inout LoginThrottle) throws -> Void) async throws {
        try await self.update(EtcdKeys.loginThrottle + key, as: LoginThrottle.self, keepsKey: { $0.key == key }, update)
    }
    public func deleteLoginThrottle(key: String) async throws { try await delete(EtcdKeys.loginThrottle + key) }
    public func listLoginThrottles() async throws -> [LoginThrottle] {
        try await list(EtcdKeys.loginThrottle, as: LoginThrottle.self)
    }
}
