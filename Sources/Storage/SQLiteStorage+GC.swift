import Foundation
import SQLiteNIO

/// Garbage collection in pages of `gcPageSize` rows.
///
/// Each page is its own short statement or transaction and the connection lock is released
/// between pages, so requests keep being served while a large backlog is cleaned.
extension SQLiteStorage {
    public func garbageCollect(now: Date, refreshPolicy: RefreshExpiryPolicy) async throws -> GarbageCollectionResult {
        var result = GarbageCollectionResult()
        let nowBind = SQLiteData.time(now)
        result.authRequests = try await deleteExpired(from: "auth_request", key: "id", now: nowBind)
        result.authCodes = try await deleteExpired(from: "auth_code", key: "id", now: nowBind)
        result.deviceRequests = try await deleteExpired(from: "device_request", key: "user_code", now: nowBind)
        result.deviceTokens = try await deleteExpired(from: "device_token", key: "device_code", now: nowBind)
        result.loginThrottles = try await deleteExpired(from: "login_throttle", key: "key", now: nowBind)

        // Refresh tokens: only the limits the policy sets (zero disables one, as in Dex).
        var conditions: [String] = []
        var binds: [SQLiteData] = []
        if refreshPolicy.absoluteLifetime > 0 {
            conditions.append("created_at_us < ?")
            binds.append(.time(now.addingTimeInterval(-refreshPolicy.absoluteLifetime)))
        }
        if refreshPolicy.validIfNotUsedFor > 0 {
            conditions.append("last_used_us < ?")
            binds.append(.time(now.addingTimeInterval(-refreshPolicy.validIfNotUsedFor)))
        }
        guard !conditions.isEmpty else { return result }
        let select = "SELECT id FROM refresh_token WHERE \(conditions.joined(separator: " OR ")) LIMIT \(Self.gcPageSize)"
        while true {
            let (tokens, sessions) = try await transaction {
                let ids = try await execute(select, binds).compactMap { $0.column("id")?.string }
                guard !ids.isEmpty else { return (0, 0) }
                let list = Array(repeating: "?", count: ids.count).joined(separator: ", ")
                let idBinds = ids.map { SQLiteData.text($0) }
                try await execute("DELETE FROM refresh_token WHERE id IN (\(list))", idBinds)
                let removedSessions = try await pruneSessions(referencing: Set(ids), list: list, binds: idBinds)
                return (ids.count, removedSessions)
            }
            result.refreshTokens += tokens
            result.offlineSessions += sessions
            if tokens < Self.gcPageSize { break }
        }
        return result
    }

    /// Deletes rows whose `expiry_us` is before `now`, one page per statement.
    private func deleteExpired(from table: String, key: String, now: SQLiteData) async throws -> Int {
        let sql = """
            DELETE FROM \(table) WHERE \(key) IN \
            (SELECT \(key) FROM \(table) WHERE expiry_us < ? LIMIT \(Self.gcPageSize)) RETURNING 1 AS deleted
            """
        var total = 0
        while true {
            let deleted = try await withConnection { try await execute(sql, [now]).count }
            total += deleted
            if deleted < Self.gcPageSize { return total }
        }
    }

    /// Drops references to collected refresh tokens; returns how many sessions were left
    /// with none and deleted. Runs inside the caller's transaction.
    private func pruneSessions(referencing dead: Set<String>, list: String, binds: [SQLiteData]) async throws -> Int {
        let rows = try await execute(
            "SELECT DISTINCT user_id, conn_id FROM offline_session_ref WHERE refresh_id IN (\(list))", binds)
        var removed = 0
        for row in rows {
            guard let userID = row.column("user_id")?.string, let connectorID = row.column("conn_id")?.string else { continue }
            let key: [SQLiteData] = [.text(userID), .text(connectorID)]
            guard var session = try await selectRow(SQLiteTables.offlineSession, key: key) else { continue }
            session.refresh = session.refresh.filter { !dead.contains($0.value.id) }
            if session.refresh.isEmpty {
                try await removeSession(userID: userID, connectorID: connectorID)
                removed += 1
            } else {
                try await writeSession(session)
            }
        }
        return removed
    }
}
