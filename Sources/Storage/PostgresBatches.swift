import PostgresNIO

/// Group commit for PostgreSQL's token path, as `SQLiteRowBatches` for SQLite: concurrent refresh
/// grants read their tokens (each with its password-DB user) in one statement, and rotate them in
/// one transaction (`BEGIN`, one `UPDATE … FROM (VALUES …)`, `COMMIT`) instead of one transaction
/// each. Every row is still written only if its body is the one that was read; a row that
/// changed goes back to the per-row serializable read-modify-write.
enum PostgresBatches {
    /// Most rows per statement.
    static let limit = 64

    static func tokenWithUser(count: Int) -> String {
        "SELECT t.id, t.data, p.email, p.data FROM refresh_token AS t "
            + "LEFT JOIN password AS p ON (t.data::json ->> 'connectorID') = $1 "
            + "AND p.email = lower(t.data::json -> 'claims' ->> 'email') "
            + "WHERE t.id IN (\((0..<count).map { "$\($0 + 2)" }.joined(separator: ", ")))"
    }

    /// `UPDATE table AS t SET <index columns>, data FROM (VALUES (key, <index values>, body,
    /// expected), …) AS v WHERE t.key = v.key AND t.data = v.expected RETURNING t.key`.
    static func compareAndSwap(table: String, keyColumn: String, indexColumns: [String], count: Int) -> String {
        let columns = ["k"] + indexColumns.indices.map { "i\($0)" } + ["body", "expected"]
        let sets = (indexColumns.enumerated().map { "\($1) = v.i\($0)" } + ["data = v.body"]).joined(separator: ", ")
        let rows = (0..<count).map { row in
            "(" + (0..<columns.count).map { "$\(row * columns.count + $0 + 1)" }.joined(separator: ", ") + ")"
        }
        return "UPDATE \(table) AS t SET \(sets) FROM (VALUES \(rows.joined(separator: ", "))) AS v(\(columns.joined(separator: ", "))) "
            + "WHERE t.\(keyColumn) = v.k AND t.data = v.expected RETURNING t.\(keyColumn)"
    }
}

/// One compare-and-swap of a row, batched with concurrent ones of other rows of the same table.
struct PostgresBatchedWrite: BatchedCompareAndSwap {
    let table: String
    let keyColumn: String
    let indexColumns: [String]
    let key: String
    /// The index columns' values, then the new body.
    let values: [PostgresBindValue]
    let expected: String
}

extension PostgresStorage {
    /// The refresh token and its password-DB user in one statement, batched (see `getRefreshTokenWithUser`).
    func readTokenWithUser(id: String, passwordConnectorID: String) async throws -> TokenUserRow? {
        try await tokenUserReads.submit(TokenUserRead(id: id, passwordConnectorID: passwordConnectorID), fits: { batch, candidate in
            candidate.passwordConnectorID == batch[0].passwordConnectorID
        }, run: { [self] batch in
            let binds = [PostgresBindValue.text(batch[0].passwordConnectorID)] + batch.map { .text($0.id) }
            let rows: [PostgresRow]
            do {
                rows = try await withConnection { try await self.run(PostgresBatches.tokenWithUser(count: batch.count), binds, on: $0) }
            } catch {
                // A body that is not JSON fails the cast, and with it the statement; read each
                // token alone instead (users left to `getPassword`), so only that grant fails.
                var tokens: [TokenUserRow?] = []
                for request in batch {
                    let row = try await withConnection { try await self.run("SELECT data FROM refresh_token WHERE id = $1", [.text(request.id)], on: $0) }.first
                    tokens.append(try row.map { TokenUserRow(token: try $0.decode(String.self), user: nil) })
                }
                return tokens
            }
            var found: [String: TokenUserRow] = [:]
            for row in rows {
                let (id, data, email, user): (String, String, String?, String?)
                do {
                    (id, data, email, user) = try row.decode((String, String, String?, String?).self)
                } catch {
                    throw StorageError.corrupt("refresh_token row has no readable id or body")
                }
                found[id] = TokenUserRow(token: data, user: email.flatMap { key in user.map { (key, $0) } })
            }
            return batch.map { found[$0.id] }
        })
    }

    /// Whether the row was written (false: it changed or is gone since it was read).
    func batchedCompareAndSwap(_ request: PostgresBatchedWrite) async throws -> Bool {
        try await writeBatches.submit(request, fits: { batch, candidate in
            candidate.table == batch[0].table && !batch.contains { $0.key == candidate.key }
        }, run: { [self] batch in
            let first = batch[0]
            let binds = PostgresBatchedWrite.binds(batch, text: PostgresBindValue.text)
            let sql = PostgresBatches.compareAndSwap(table: first.table, keyColumn: first.keyColumn,
                                                     indexColumns: first.indexColumns, count: batch.count)
            let written = try await transaction { connection in
                var keys = Set<String>()
                for row in try await self.run(sql, binds, on: connection) {
                    guard let key = try? row.decode(String.self) else { throw StorageError.corrupt("\(first.table) update returned no key") }
                    keys.insert(key)
                }
                return keys
            }
            return batch.map { written.contains($0.key) }
        })
    }
}
