import Foundation

/// Everything a store holds, read type by type: what `fedgate storage copy` needs from a source.
///
/// Every `GatewayStorage` is a reader (its list operations), and so is `DexSQLReader`, which
/// reads a database in Dex's own SQL schema without being able to write one. Lists are sorted by
/// key; a backend reads them in pages (etcd ranges of `pageSize` keys, SQL keyset pages), so a
/// store of 100,000 objects is never fetched as one giant response.
public protocol StorageReader: Sendable {
    /// The key set singleton; an empty `Keys()` when none was stored.
    func getKeys() async throws -> Keys
    func listClients() async throws -> [Client]
    func listPasswords() async throws -> [Password]
    func listConnectors() async throws -> [ConnectorRecord]
    func listRefreshTokens() async throws -> [RefreshToken]
    /// Every offline session of every user, sorted by (userID, connectorID).
    func listOfflineSessions() async throws -> [OfflineSession]
    func listAuthRequests() async throws -> [AuthRequest]
    func listAuthCodes() async throws -> [AuthCode]
    /// Sorted by user code.
    func listDeviceRequests() async throws -> [DeviceRequest]
    /// Sorted by device code.
    func listDeviceTokens() async throws -> [DeviceToken]
    func listLoginThrottles() async throws -> [LoginThrottle]
    func close() async throws
}
