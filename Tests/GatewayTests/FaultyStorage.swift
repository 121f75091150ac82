import Foundation
import Storage
@testable import Gateway
import Synchronization

/// A store that forwards to another and fails the operations a test names (`StorageError`
/// unavailable, what a PostgreSQL or etcd outage looks like to the gateway), so a test can put
/// a fault at one exact step of a flow.
final class FaultyStorage: GatewayStorage {
    let base: any GatewayStorage
    /// Operation names (the method's base name, e.g. `createRefreshToken`) that fail, each with
    /// how many more calls fail (`Int.max`: until cleared) and the error they throw.
    private let failing = Mutex<[String: (left: Int, error: StorageError)]>([:])

    init(base: any GatewayStorage) { self.base = base }

    /// The same gateway over a `FaultyStorage` of its store.
    static func wrap(_ gateway: Gateway) throws -> (Gateway, FaultyStorage) {
        let faulty = FaultyStorage(base: gateway.storage)
        return (try Gateway(settings: gateway.settings, storage: faulty, keys: gateway.keys, connectors: gateway.connectors,
                            pages: gateway.pages, logger: gateway.logger, now: gateway.now), faulty)
    }

    /// By default the operation fails as in an outage; `error` can make it lose a race instead
    /// (`.notFound`, `.alreadyExists`).
    func fail(_ operation: String, times: Int = .max, with error: StorageError? = nil) {
        failing.withLock { $0[operation] = (times, error ?? .unavailable("injected fault in \(operation)")) }
    }
    func heal() { failing.withLock { $0 = [:] } }

    private func fault(_ operation: String) async throws {
        let error = failing.withLock { state -> StorageError? in
            guard let entry = state[operation], entry.left > 0 else { return nil }
            state[operation] = (entry.left - 1, entry.error)
            return entry.error
        }
        if let error { throw error }
    }

    func getKeys() async throws -> Keys { try await fault("getKeys"); return try await base.getKeys() }
    func updateKeys(_ update: @escaping @Sendable (inout Keys) throws -> Void) async throws { try await fault("updateKeys"); return try await base.updateKeys(update) }
    func createClient(_ client: Client) async throws { try await fault("createClient"); try await base.createClient(client) }
    func getClient(id: String) async throws -> Client { try await fault("getClient"); return try await base.getClient(id: id) }
    func updateClient(id: String, _ update: @escaping @Sendable (inout Client) throws -> Void) async throws { try await fault("updateClient"); return try await base.updateClient(id: id, update) }
    func deleteClient(id: String) async throws { try await fault("deleteClient"); try await base.deleteClient(id: id) }
    func listClients() async throws -> [Client] { try await fault("listClients"); return try await base.listClients() }
    func createAuthRequest(_ request: AuthRequest) async throws { try await fault("createAuthRequest"); try await base.createAuthRequest(request) }
    func getAuthRequest(id: String) async throws -> AuthRequest { try await fault("getAuthRequest"); return try await base.getAuthRequest(id: id) }
    func updateAuthRequest(id: String, _ update: @escaping @Sendable (inout AuthRequest) throws -> Void) async throws { try await fault("updateAuthRequest"); return try await base.updateAuthRequest(id: id, update) }
    func deleteAuthRequest(id: String) async throws { try await fault("deleteAuthRequest"); try await base.deleteAuthRequest(id: id) }
    func listAuthRequests() async throws -> [AuthRequest] { try await fault("listAuthRequests"); return try await base.listAuthRequests() }
    func createAuthCode(_ code: AuthCode) async throws { try await fault("createAuthCode"); try await base.createAuthCode(code) }
    func getAuthCode(id: String) async throws -> AuthCode { try await fault("getAuthCode"); return try await base.getAuthCode(id: id) }
    func deleteAuthCode(id: String) async throws { try await fault("deleteAuthCode"); try await base.deleteAuthCode(id: id) }
    func listAuthCodes() async throws -> [AuthCode] { try await fault("listAuthCodes"); return try await base.listAuthCodes() }
    func createRefreshToken(_ token: RefreshToken) async throws { try await fault("createRefreshToken"); try await base.createRefreshToken(token) }
    func getRefreshToken(id: String) async throws -> RefreshToken { try await fault("getRefreshToken"); return try await base.getRefreshToken(id: id) }
    func getRefreshTokenWithUser(id: String, passwordConnectorID: String) async throws -> RefreshTokenWithUser { try await fault("getRefreshTokenWithUser"); return try await base.getRefreshTokenWithUser(id: id, passwordConnectorID: passwordConnectorID) }
    func updateRefreshToken(id: String, _ update: @escaping @Sendable (inout RefreshToken) throws -> Void) async throws { try await fault("updateRefreshToken"); return try await base.updateRefreshToken(id: id, update) }
    func deleteRefreshToken(id: String) async throws { try await fault("deleteRefreshToken"); try await base.deleteRefreshToken(id: id) }
    func listRefreshTokens() async throws -> [RefreshToken] { try await fault("listRefreshTokens"); return try await base.listRefreshTokens() }
    func createOfflineSession(_ session: OfflineSession) async throws { try await fault("createOfflineSession"); try await base.createOfflineSession(session) }
    func getOfflineSession(userID: String, connectorID: String) async throws -> OfflineSession { try await fault("getOfflineSession"); return try await base.getOfflineSession(userID: userID, connectorID: connectorID) }
    func updateOfflineSession(userID: String, connectorID: String, _ update: @escaping @Sendable (inout OfflineSession) throws -> Void) async throws { try await fault("updateOfflineSession"); return try await base.updateOfflineSession(userID: userID, connectorID: connectorID, update) }
    func deleteOfflineSession(userID: String, connectorID: String) async throws { try await fault("deleteOfflineSession"); try await base.deleteOfflineSession(userID: userID, connectorID: connectorID) }
    func listOfflineSessions(userID: String) async throws -> [OfflineSession] { try await fault("listOfflineSessions"); return try await base.listOfflineSessions(userID: userID) }
    func listOfflineSessions() async throws -> [OfflineSession] { try await fault("listOfflineSessions"); return try await base.listOfflineSessions() }
    func createPassword(_ password: Password) async throws { try await fault("createPassword"); try await base.createPassword(password) }
    func getPassword(email: String) async throws -> Password { try await fault("getPassword"); return try await base.getPassword(email: email) }
    func updatePassword(email: String, _ update: @escaping @Sendable (inout Password) throws -> Void) async throws { try await fault("updatePassword"); return try await base.updatePassword(email: email, update) }
    func deletePassword(email: String) async throws { try await fault("deletePassword"); try await base.deletePassword(email: email) }
    func listPasswords() async throws -> [Password] { try await fault("listPasswords"); return try await base.listPasswords() }
    func createConnector(_ connector: ConnectorRecord) async throws { try await fault("createConnector"); try await base.createConnector(connector) }
    func getConnector(id: String) async throws -> ConnectorRecord { try await fault("getConnector"); return try await base.getConnector(id: id) }
    func updateConnector(id: String, _ update: @escaping @Sendable (inout ConnectorRecord) throws -> Void) async throws { try await fault("updateConnector"); return try await base.updateConnector(id: id, update) }
    func deleteConnector(id: String) async throws { try await fault("deleteConnector"); try await base.deleteConnector(id: id) }
    func listConnectors() async throws -> [ConnectorRecord] { try await fault("listConnectors"); return try await base.listConnectors() }
    func createDeviceRequest(_ request: DeviceRequest) async throws { try await fault("createDeviceRequest"); try await base.createDeviceRequest(request) }
    func getDeviceRequest(userCode: String) async throws -> DeviceRequest { try await fault("getDeviceRequest"); return try await base.getDeviceRequest(userCode: userCode) }
    func createDeviceToken(_ token: DeviceToken) async throws { try await fault("createDeviceToken"); try await base.createDeviceToken(token) }
    func getDeviceToken(deviceCode: String) async throws -> DeviceToken { try await fault("getDeviceToken"); return try await base.getDeviceToken(deviceCode: deviceCode) }
    func updateDeviceToken(deviceCode: String, _ update: @escaping @Sendable (inout DeviceToken) throws -> Void) async throws { try await fault("updateDeviceToken"); return try await base.updateDeviceToken(deviceCode: deviceCode, update) }
    func listDeviceRequests() async throws -> [DeviceRequest] { try await fault("listDeviceRequests"); return try await base.listDeviceRequests() }
    func listDeviceTokens() async throws -> [DeviceToken] { try await fault("listDeviceTokens"); return try await base.listDeviceTokens() }
    func createLoginThrottle(_ throttle: LoginThrottle) async throws { try await fault("createLoginThrottle"); try await base.createLoginThrottle(throttle) }
    func getLoginThrottle(key: String) async throws -> LoginThrottle { try await fault("getLoginThrottle"); return try await base.getLoginThrottle(key: key) }
    func updateLoginThrottle(key: String, _ update: @escaping @Sendable (inout LoginThrottle) throws -> Void) async throws { try await fault("updateLoginThrottle"); return try await base.updateLoginThrottle(key: key, update) }
    func deleteLoginThrottle(key: String) async throws { try await fault("deleteLoginThrottle"); try await base.deleteLoginThrottle(key: key) }
    func listLoginThrottles() async throws -> [LoginThrottle] { try await fault("listLoginThrottles"); return try await base.listLoginThrottles() }
    func garbageCollect(now: Date, refreshPolicy: RefreshExpiryPolicy) async throws -> GarbageCollectionResult { try await fault("garbageCollect"); return try await base.garbageCollect(now: now, refreshPolicy: refreshPolicy) }
    func healthCheck() async throws { try await fault("healthCheck"); try await base.healthCheck() }
    func close() async throws { try await fault("close"); try await base.close() }
}
