import Foundation
import PostgresNIO

/// Offline sessions, with `offline_session_ref` kept in step in the same transaction so garbage
/// collection can find the sessions that reference a collected refresh token.
extension PostgresStorage {
    public func createOfflineSession(_ session: OfflineSession) async throws {
        try await transaction { connection in
            guard try await self.insertRow(PostgresTables.offlineSession, session, on: connection) else {
                throw StorageError.alreadyExists
            }
            try await self.insertRefs(of: session, on: connection)
        }
    }

    public func getOfflineSession(userID: String, connectorID: String) async throws -> OfflineSession {
        try await get(PostgresTables.offlineSession, key: [userID, connectorID])
    }

    public func updateOfflineSession(
        userID: String, connectorID: String, _ update: @escaping @Sendable (inout OfflineSession) throws -> Void
    ) async throws {
        let key = [userID, connectorID]
        try await updateLock.withLock(PostgresTables.offlineSession.lockKey(key)) {
            try await self.transaction { connection in
                guard var session = try await self.selectRow(PostgresTables.offlineSession, key: key, on: connection) else {
                    throw StorageError.notFound
                }
                let before = Set(session.refresh.values.map(\.id))
                try update(&session)
                guard PostgresTables.offlineSession.key(session) == key else {
                    throw StorageError.corrupt("an updater must not change the object's key")
                }
                try await self.writeSession(session, previousRefs: before, on: connection)
            }
        }
    }

    public func deleteOfflineSession(userID: String, connectorID: String) async throws {
        try await transaction { connection in
            try await self.removeSession(userID: userID, connectorID: connectorID, on: connection)
        }
    }

    public func listOfflineSessions(userID: String) async throws -> [OfflineSession] {
        try await list(PostgresTables.offlineSession, where: "user_id = $1", [.text(userID)])
    }

    public func listOfflineSessions() async throws -> [OfflineSession] { try await list(PostgresTables.offlineSession) }

    // MARK: Row helpers (caller holds a transaction)

    /// Rewrites an existing session, touching only the reference rows that changed.
    func writeSession(_ session: OfflineSession, previousRefs: Set<String>, on connection: PostgresConnection) async throws {
        try await updateRow(PostgresTables.offlineSession, session, on: connection)
        let current = Set(session.refresh.values.map(\.id))
        let removed = previousRefs.subtracting(current).sorted()
        if !removed.isEmpty {
            let list = (0..<removed.count).map { "$\($0 + 3)" }.joined(separator: ", ")
            try await run("DELETE FROM offline_session_ref WHERE user_id = $1 AND conn_id = $2 AND refresh_id IN (\(list))",
                          [.text(session.userID), .text(session.connectorID)] + removed.map(PostgresBindValue.text),
                          on: connection)
        }
        try await insertRefs(ids: current.subtracting(previousRefs), of: session, on: connection)
    }

    /// Deletes a session and its reference rows; throws `notFound` if there was none.
    func removeSession(userID: String, connectorID: String, on connection: PostgresConnection) async throws {
        let key = [userID, connectorID]
        guard try await deleteRow(PostgresTables.offlineSession, key: key, on: connection) else { throw StorageError.notFound }
        try await run("DELETE FROM offline_session_ref WHERE user_id = $1 AND conn_id = $2",
                      key.map(PostgresBindValue.text), on: connection)
    }

    private func insertRefs(of session: OfflineSession, on connection: PostgresConnection) async throws {
        try await insertRefs(ids: Set(session.refresh.values.map(\.id)), of: session, on: connection)
    }

    private func insertRefs(ids: Set<String>, of session: OfflineSession, on connection: PostgresConnection) async throws {
        let sorted = ids.sorted()
        guard !sorted.isEmpty else { return }
        let tuples = sorted.indices.map { "($\($0 + 3), $1, $2)" }.joined(separator: ", ")
        try await run("INSERT INTO offline_session_ref (refresh_id, user_id, conn_id) VALUES \(tuples) ON CONFLICT DO NOTHING",
                      [.text(session.userID), .text(session.connectorID)] + sorted.map(PostgresBindValue.text),
                      on: connection)
    }
}
