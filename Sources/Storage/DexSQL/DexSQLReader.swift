import Foundation
import Logging

/// Reads every object of a database in Dex's legacy SQL schema (Dex `storage/sql`, the tables
/// Dex's `sqlite3` and `postgres` storages create) as Fedgate models, so `fedgate storage copy`
/// can move a Dex deployment's state into any Fedgate store.
///
/// Read-only by design: Fedgate's own SQL backends use their own schema (JSON bodies), so a Dex
/// database is never opened as one of them (their migrations would fail on Dex's tables), and
/// nothing here writes to it. Tables are read in keyset pages of `pageSize` rows, so a table of
/// 100,000 rows is never one giant result. Dex has no stored login throttles (an empty list).
///
/// What survives: clients, passwords (bcrypt hashes as they are), connectors, refresh tokens
/// with their `id` and `token` unchanged (so the refresh tokens clients hold keep working),
/// offline sessions, in-flight auth requests, codes and device flows, and Dex's public signing
/// keys as verification keys (`Keys.fromDex`), so ID tokens Dex signed keep verifying.
public final class DexSQLReader: StorageReader {
    public enum Flavor: String, Sendable {
        case sqlite3
        case postgres
    }

    /// Rows read per statement.
    static let pageSize = 500

    public let flavor: Flavor
    let database: any DexSQLDatabase

    init(flavor: Flavor, database: any DexSQLDatabase) {
        self.flavor = flavor
        self.database = database
    }

    /// Opens the SQLite file if it holds Dex's schema; nil (and nothing left open) if it does
    /// not exist or holds another schema, such as Fedgate's.
    public static func openIfDex(sqliteFile file: String, logger: Logger) async throws -> DexSQLReader? {
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        return try await ifDex(.sqlite3, try await DexSQLiteDatabase.open(file: file, logger: logger))
    }

    /// Connects to the PostgreSQL database and keeps the connection if it holds Dex's schema.
    public static func openIfDex(postgres options: PostgresOptions, logger: Logger) async throws -> DexSQLReader? {
        try await ifDex(.postgres, try DexPostgresDatabase.open(options, logger: logger))
    }

    private static func ifDex(_ flavor: Flavor, _ database: any DexSQLDatabase) async throws -> DexSQLReader? {
        do {
            if try await database.hasDexSchema() { return DexSQLReader(flavor: flavor, database: database) }
        } catch {
            try? await database.close()
            throw error
        }
        try await database.close()
        return nil
    }

    /// Every row of `table`, mapped, sorted by key.
    func all<T>(_ table: DexSQLTable, _ map: (DexSQLRow) throws -> T) async throws -> [T] {
        // Tables a Dex version had not created yet (device flow before v2.27) are empty.
        guard !(try await database.columns(of: table.name)).isEmpty else { return [] }
        var objects: [T] = []
        var after: [String]?
        while true {
            let rows = try await database.page(of: table, after: after, limit: Self.pageSize)
            for row in rows { objects.append(try map(row)) }
            guard rows.count == Self.pageSize, let last = rows.last else { return objects }
            after = table.keyColumns.map { last.text($0) }
        }
    }

    // MARK: StorageReader

    public func getKeys() async throws -> Keys {
        try await all(.keys) { $0 }.first { $0.text("id") == "keys" }.map(DexSQLRecords.keys) ?? Keys()
    }

    public func listClients() async throws -> [Client] {
        try await all(.client, DexSQLRecords.client).sorted { $0.id < $1.id }
    }

    public func listPasswords() async throws -> [Password] {
        try await all(.password, DexSQLRecords.password).sorted { $0.email < $1.email }
    }

    public func listConnectors() async throws -> [ConnectorRecord] {
        try await all(.connector, DexSQLRecords.connector).sorted { $0.id < $1.id }
    }

    public func listRefreshTokens() async throws -> [RefreshToken] {
        try await all(.refreshToken, DexSQLRecords.refreshToken).sorted { $0.id < $1.id }
    }

    public func listOfflineSessions() async throws -> [OfflineSession] {
        try await all(.offlineSession, DexSQLRecords.offlineSession)
            .sorted { ($0.userID, $0.connectorID) < ($1.userID, $1.connectorID) }
    }

    public func listAuthRequests() async throws -> [AuthRequest] {
        try await all(.authRequest, DexSQLRecords.authRequest).sorted { $0.id < $1.id }
    }

    public func listAuthCodes() async throws -> [AuthCode] {
        try await all(.authCode, DexSQLRecords.authCode).sorted { $0.id < $1.id }
    }

    public func listDeviceRequests() async throws -> [DeviceRequest] {
        try await all(.deviceRequest, DexSQLRecords.deviceRequest).sorted { $0.userCode < $1.userCode }
    }

    public func listDeviceTokens() async throws -> [DeviceToken] {
        try await all(.deviceToken, DexSQLRecords.deviceToken).sorted { $0.deviceCode < $1.deviceCode }
    }

    /// Dex keeps no login throttles.
    public func listLoginThrottles() async throws -> [LoginThrottle] { [] }

    public func close() async throws { try await database.close() }
}
