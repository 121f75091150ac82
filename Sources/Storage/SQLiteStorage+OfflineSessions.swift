import Foundation
import SQLiteNIO

/// Offline sessions, with `offline_session_ref` kept in step in the same transaction so garbage
/// collection can find the sessions that reference a collected refresh token.
extension SQLiteStorage {
    public func createOfflineSession(_ session: OfflineSession) async throws {
        try await transaction {
            guard try await insertRow(SQLiteTables.offlineSession, session) else { throw StorageError.alreadyExists }
            try await insertRefs(of: session)
        }
    }

    public func getOfflineSession(userID: String, connectorID: String) async throws -> OfflineSession {
        try await get(SQLiteTables.offlineSession, key: [.text(userID), .text(connectorID)])
    }

    public func updateOfflineSession(
        userID: String, connectorID: String, _ update: @escaping @Sendable (inout OfflineSession) throws -> Void
    ) async throws {
        let key: [SQLiteData] = [.text(userID), .text(connectorID)]
        try await transaction {
            guard var session = try await selectRow(SQLiteTables.offlineSession, key: key) else {
                throw StorageError.notFound
            }
            try update(&session)
            guard SQLiteTables.offlineSession.key(session) == key else {
                throw StorageError.corrupt("an updater must not change the object's key")
            }
            try await writeSession(session)
        }
    }

    public func deleteOfflineSession(userID: String, connectorID: String) async throws {
        try await transaction {
            try await removeSession(userID: userID, connectorID: connectorID)
        }
    }

    public func listOfflineSessions(userID: String) async throws -> [OfflineSession] {
        try await list(SQLiteTables.offlineSession, where: "user_id = ?", [.text(userID)])
    }

    public func listOfflineSessions() async throws -> [OfflineSession] { try await list(SQLiteTables.offlineSession) }

    // MARK: Row helpers (caller holds a transaction)

    /// Rewrites an existing session and its reference rows.
    func writeSession(_ session: OfflineSession) async throws {
        try await updateRow(SQLiteTables.offlineSession, session)
        try await execute(
            "DELETE FROM offline_session_ref WHERE user_id = ? AND conn_id = ?",
            [.text(session.userID), .text(session.connectorID)]
        )
        try await insertRefs(of: session)
    }

    /// Deletes a session and its reference rows; throws `notFound` if there was none.
    func removeSession(userID: String, connectorID: String) async throws {
        let key: [SQLiteData] = [.text(userID), .text(connectorID)]
        guard try await deleteRow(SQLiteTables.offlineSession, key: key) else { throw StorageError.notFound }
        try await execute("DELETE FROM offline_session_ref WHERE user_id = ? AND conn_id = ?", key)
    }

    private func insertRefs(of session: OfflineSession) async throws {
        let ids = Set(session.refresh.values.map(\.id)).sorted()
        guard !ids.isEmpty else { return }
        let tuples = Array(repeating: "(?, ?, ?)", count: ids.count).joined(separator: ", ")
        let binds = ids.flatMap { [SQLiteData.text($0), .text(session.userID), .text(session.connectorID)] }
        try await execute("INSERT OR IGNORE INTO offline_session_ref (refresh_id, user_id, conn_id) VALUES \(tuples)", binds)
    }
}
