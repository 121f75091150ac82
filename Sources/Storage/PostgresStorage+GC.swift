import Foundation
import PostgresNIO

/// Garbage collection in pages of `gcPageSize` rows (fixes Dex #4979, where one huge DELETE
/// stalls a large store).
///
/// Each page is its own short statement or transaction, so no transaction ever holds more than
/// one page of row locks, memory stays flat however large the backlog, and other replicas keep
/// being served. Two replicas collecting at once are harmless: a row deleted by one is simply
/// not returned to the other, and a page that conflicts under SERIALIZABLE is retried.
extension PostgresStorage {
    public func garbageCollect(now: Date, refreshPolicy: RefreshExpiryPolicy) async throws -> GarbageCollectionResult {
        var result = GarbageCollectionResult()
        let nowBind = PostgresBindValue.time(now)
        result.authRequests = try await deleteExpired(from: "auth_request", key: "id", now: nowBind)
        result.authCodes = try await deleteExpired(from: "auth_code", key: "id", now: nowBind)
        result.deviceRequests = try await deleteExpired(from: "device_request", key: "user_code", now: nowBind)
        result.deviceTokens = try await deleteExpired(from: "device_token", key: "device_code", now: nowBind)
        result.loginThrottles = try await deleteExpired(from: "login_throttle", key: "key", now: nowBind)

        // Refresh tokens: only the limits the policy sets (zero disables one, as in Dex).
        var conditions: [String] = []
        var binds: [PostgresBindValue] = []
        if refreshPolicy.absoluteLifetime > 0 {
            binds.append(.time(now.addingTimeInterval(-refreshPolicy.absoluteLifetime)))
            conditions.append("created_at_us < $\(binds.count)")
        }
        if refreshPolicy.validIfNotUsedFor > 0 {
            binds.append(.time(now.addingTimeInterval(-refreshPolicy.validIfNotUsedFor)))
            conditions.append("last_used_us < $\(binds.count)")
        }
        guard !conditions.isEmpty else { return result }
        let delete = """
            DELETE FROM refresh_token WHERE id IN \
            (SELECT id FROM refresh_token WHERE \(conditions.joined(separator: " OR ")) LIMIT \(Self.gcPageSize)) RETURNING id
            """
        let pageBinds = binds
        while true {
            let (tokens, sessions) = try await transaction { connection -> (Int, Int) in
                let ids = try await self.run(delete, pageBinds, on: connection).map { try $0.decode(String.self) }
                guard !ids.isEmpty else { return (0, 0) }
                return (ids.count, try await self.pruneSessions(referencing: ids, on: connection))
            }
            result.refreshTokens += tokens
            result.offlineSessions += sessions
            if tokens < Self.gcPageSize { break }
        }
        return result
    }

    /// Deletes rows whose `expiry_us` is before `now`, one page per statement.
    private func deleteExpired(from table: String, key: String, now: PostgresBindValue) async throws -> Int {
        let sql = """
            DELETE FROM \(table) WHERE \(key) IN \
            (SELECT \(key) FROM \(table) WHERE expiry_us < $1 LIMIT \(Self.gcPageSize)) RETURNING 1
            """
        var total = 0
        while true {
            let deleted = try await withConnection { try await self.run(sql, [now], on: $0).count }
            total += deleted
            if deleted < Self.gcPageSize { return total }
        }
    }

    /// Drops references to collected refresh tokens; returns how many sessions were left with
    /// none and deleted. Runs inside the caller's transaction.
    private func pruneSessions(referencing dead: [String], on connection: PostgresConnection) async throws -> Int {
        let list = dead.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
        let binds = dead.map(PostgresBindValue.text)
        let rows = try await run(
            "SELECT DISTINCT user_id, conn_id FROM offline_session_ref WHERE refresh_id IN (\(list))", binds, on: connection)
        let deadSet = Set(dead)
        var removed = 0
        for row in rows {
            let (userID, connectorID) = try row.decode((String, String).self)
            let key = [userID, connectorID]
            guard var session = try await selectRow(PostgresTables.offlineSession, key: key, on: connection) else { continue }
            let before = Set(session.refresh.values.map(\.id))
            session.refresh = session.refresh.filter { !deadSet.contains($0.value.id) }
            if session.refresh.isEmpty {
                try await removeSession(userID: userID, connectorID: connectorID, on: connection)
                removed += 1
            } else {
                try await writeSession(session, previousRefs: before, on: connection)
            }
        }
        return removed
    }
}
