import SQLiteNIO

/// The batched statements of one table on the token path: concurrent reads by key as one
/// `SELECT … WHERE key IN (…)`, concurrent compare-and-swap writes as one `UPDATE … FROM (VALUES …)`.
///
/// A refresh grant is two statements (read the token, rotate it), and with many clients the
/// SQLite pool thread spent most of its time on what every statement costs whatever it does:
/// preparation (sqlite-nio prepares each call from text), the thread hand-off, opening a read
/// transaction, and for a write the commit with its WAL frames (docs/benchmarks.md). Run through
/// a `Coalescer`, N concurrent grants pay those once per batch: a group commit. A batch of one
/// uses the table's ordinary single-row statements.
/// A class: every queued request refers to its table's batches, and copying a reference is
/// one retain where this many strings would be several.
final class SQLiteRowBatches: Sendable {
    /// Most rows per statement (binds stay far below SQLite's limit of 32,766).
    static let limit = 64

    let table: String
    let keyColumn: String
    let indexColumns: [String]
    /// The table's single-row statements, for a batch of one: `SELECT data … WHERE key = ?` and
    /// the compare-and-swap per mask (binds: changed index values, body, key, expected body).
    let selectOne: String
    let compareAndSwapOne: [String]

    init(table: String, keyColumn: String, indexColumns: [String], selectOne: String, compareAndSwapOne: [String]) {
        self.table = table
        self.keyColumn = keyColumn
        self.indexColumns = indexColumns
        self.selectOne = selectOne
        self.compareAndSwapOne = compareAndSwapOne
    }

    /// `SELECT key AS k, data FROM table WHERE key IN (?, …)`, `count` placeholders.
    func select(count: Int) -> String {
        "SELECT \(keyColumn) AS k, data FROM \(table) WHERE \(keyColumn) IN (\(Self.placeholders(count)))"
    }

    /// The compare-and-swap of `count` rows in one statement: each row is written only if its body
    /// is still the expected text; `RETURNING` names the rows written.
    ///
    /// Binds per row: key, the values of the index columns in `mask` (in `indexColumns` order),
    /// the new body, the expected body. A batch never holds one key twice (`fits`), since SQLite
    /// applies only one of several joined rows to the same target row.
    func compareAndSwap(mask: Int, count: Int) -> String {
        let changed = indexColumns.indices.filter { mask & (1 << $0) != 0 }.map { indexColumns[$0] }
        let assignments = (changed + ["data"]).enumerated().map { "\($1) = v.column\($0 + 2)" }
        let width = changed.count + 3
        let row = "(\(Self.placeholders(width)))"
        return "UPDATE \(table) SET \(assignments.joined(separator: ", ")) "
            + "FROM (VALUES \(Array(repeating: row, count: count).joined(separator: ", "))) AS v "
            + "WHERE \(table).\(keyColumn) = v.column1 AND \(table).data = v.column\(width) "
            + "RETURNING \(table).\(keyColumn) AS k"
    }

    private static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ", ")
    }
}

/// One read by key, batched with concurrent reads of the same table.
struct SQLiteBatchedRead: Sendable {
    let batches: SQLiteRowBatches
    let key: String
}

/// One compare-and-swap write, batched with concurrent writes of other rows of the same table
/// that change the same index columns.
struct SQLiteBatchedWrite: BatchedCompareAndSwap {
    let batches: SQLiteRowBatches
    /// Which index columns the write changes (bit i: `indexColumns[i]`).
    let mask: Int
    let key: String
    /// The changed index columns' values, then the new body.
    let values: [SQLiteData]
    /// The body as read: the row is written only if it still holds exactly this.
    let expected: String
}

extension SQLiteStorage {
    /// The body stored under `request.key`, or nil; read on the read connection, batched with
    /// concurrent reads of the same table.
    func batchedRead(_ request: SQLiteBatchedRead) async throws -> String? {
        guard let coalescer = readBatches[request.batches.table] else { preconditionFailure("\(request.batches.table) does not batch") }
        return try await coalescer.submit(request, fits: { _, _ in true }, run: { [self] batch in
            let batches = batch[0].batches
            if batch.count == 1 {
                let rows = try await read(batches.selectOne, [.text(request.key)])
                return [rows.first?.column("data")?.string]
            }
            let rows = try await read(batches.select(count: batch.count), batch.map { .text($0.key) })
            var bodies: [String: String] = [:]
            bodies.reserveCapacity(rows.count)
            for row in rows {
                guard let key = row.column("k")?.string, let body = row.column("data")?.string else {
                    throw StorageError.corrupt("\(batches.table) row has no key or body")
                }
                bodies[key] = body
            }
            return batch.map { bodies[$0.key] }
        })
    }

    /// Whether the compare-and-swap wrote the row (false: the row changed or is gone since it was
    /// read); batched with concurrent writes of other rows.
    func batchedWrite(_ request: SQLiteBatchedWrite) async throws -> Bool {
        guard let coalescer = writeBatches[request.batches.table] else { preconditionFailure("\(request.batches.table) does not batch") }
        return try await coalescer.submit(request, fits: { batch, candidate in
            candidate.mask == batch[0].mask
                && !batch.contains { $0.key == candidate.key }
        }, run: { [self] batch in
            let first = batch[0]
            if batch.count == 1 {
                var binds = first.values
                binds.append(.text(first.key))
                binds.append(.text(first.expected))
                let sql = first.batches.compareAndSwapOne[first.mask]
                return [!(try await withConnection { try await execute(sql, binds) }).isEmpty]
            }
            let binds = SQLiteBatchedWrite.binds(batch, text: SQLiteData.text)
            let sql = first.batches.compareAndSwap(mask: first.mask, count: batch.count)
            let rows = try await withConnection { try await execute(sql, binds) }
            var written = Set<String>()
            for row in rows {
                guard let key = row.column("k")?.string else { throw StorageError.corrupt("\(first.batches.table) update returned no key") }
                written.insert(key)
            }
            return batch.map { written.contains($0.key) }
        })
    }
}

/// The combined read of a refresh grant: the token and, for a token of the password DB
/// connector, the `password` row under its claims' email, in one statement for a whole batch.
///
/// A grant through the password DB reads the token, then (in the connector's refresh) its user:
/// two batches, two thread hand-offs and two suspensions per grant. The join does both at once.
/// The user row is matched with SQLite's `lower`, which folds ASCII only; the Swift side uses it
/// only when the row's key equals the Swift-lower-cased email (`getRefreshTokenWithUser`).
enum SQLiteTokenUserReads {
    static func select(count: Int) -> String {
        "SELECT t.id AS k, t.data AS data, p.email AS user_key, p.data AS user FROM refresh_token AS t "
            + "LEFT JOIN password AS p ON t.data ->> '$.connectorID' = ? AND p.email = lower(t.data ->> '$.claims.email') "
            + "WHERE t.id IN (\(Array(repeating: "?", count: count).joined(separator: ", ")))"
    }

    /// One row per request (nil: no such token); every request of a batch names the same connector.
    static func run(_ batch: [TokenUserRead], on storage: SQLiteStorage) async throws -> [TokenUserRow?] {
        var binds: [SQLiteData] = [.text(batch[0].passwordConnectorID)]
        binds.reserveCapacity(batch.count + 1)
        for request in batch { binds.append(.text(request.id)) }
        let rows: [SQLiteRow]
        do {
            rows = try await storage.read(select(count: batch.count), binds)
        } catch {
            // A body that is not JSON fails `->>`, and with it the statement; read each token
            // alone instead (users left to `getPassword`), so only that grant fails. (Checking
            // `json_valid` in the statement instead cost 3% of a grant.)
            var tokens: [TokenUserRow?] = []
            for request in batch {
                let row = try await storage.read(SQLiteTables.refreshToken.selectByKey, [.text(request.id)]).first
                tokens.append(row.flatMap { $0.column("data")?.string }.map { TokenUserRow(token: $0, user: nil) })
            }
            return tokens
        }
        var found: [String: TokenUserRow] = [:]
        found.reserveCapacity(rows.count)
        for row in rows {
            guard let id = row.column("k")?.string, let data = row.column("data")?.string else {
                throw StorageError.corrupt("refresh_token row has no id or body")
            }
            var user: (key: String, body: String)?
            if let key = row.column("user_key")?.string, let body = row.column("user")?.string { user = (key, body) }
            found[id] = TokenUserRow(token: data, user: user)
        }
        return batch.map { found[$0.id] }
    }
}
