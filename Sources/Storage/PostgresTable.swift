import Foundation
import PostgresNIO

/// How one object type maps onto its PostgreSQL table: key columns, indexed columns and the JSON
/// body. The SQL is built only from these constant names; every value is a bound parameter.
struct PostgresTable<Object: Codable & Sendable>: Sendable {
    let name: String
    let keyColumns: [String]
    let key: @Sendable (Object) -> [String]
    /// Integer columns kept in step with the body so queries can use them (e.g. `expiry_us`).
    let indexColumns: [String]
    let indexValues: @Sendable (Object) -> [PostgresBindValue]
    let orderBy: String
    /// `get` remembers the row for the `update` that usually follows (see `RecentReads`).
    let remembersReads: Bool

    init(_ name: String, keyColumns: [String], key: @escaping @Sendable (Object) -> [String],
         indexColumns: [String] = [], indexValues: @escaping @Sendable (Object) -> [PostgresBindValue] = { _ in [] },
         remembersReads: Bool = false) {
        self.name = name; self.keyColumns = keyColumns; self.key = key
        self.indexColumns = indexColumns; self.indexValues = indexValues
        self.orderBy = keyColumns.joined(separator: ", ")
        self.remembersReads = remembersReads
    }

    /// `col1 = $<first> AND col2 = $<first+1>`.
    func keyPredicate(from first: Int = 1) -> String {
        keyColumns.enumerated().map { "\($0.element) = $\(first + $0.offset)" }.joined(separator: " AND ")
    }

    /// The lock name of one object for `KeyedUpdateLock`.
    func lockKey(_ key: [String]) -> String { ([name] + key).joined(separator: "\u{0}") }
}

// Row operations on one connection (inside `withConnection` or `transaction`).
extension PostgresStorage {
    /// Inserts unless the key is taken; returns whether a row was written.
    func insertRow<O>(_ table: PostgresTable<O>, _ object: O, on connection: PostgresConnection) async throws -> Bool {
        let columns = table.keyColumns + table.indexColumns + ["data"]
        let placeholders = (1...columns.count).map { "$\($0)" }.joined(separator: ", ")
        let binds = table.key(object).map(PostgresBindValue.text) + table.indexValues(object)
            + [.text(try StorageCodec.encode(object))]
        let rows = try await run(
            "INSERT INTO \(table.name) (\(columns.joined(separator: ", "))) VALUES (\(placeholders)) "
                + "ON CONFLICT DO NOTHING RETURNING 1",
            binds, on: connection)
        return !rows.isEmpty
    }

    func selectRow<O>(_ table: PostgresTable<O>, key: [String], on connection: PostgresConnection) async throws -> O? {
        try await selectRowText(table, key: key, on: connection)?.object
    }

    /// One row by key: the body as stored, and decoded.
    func selectRowText<O>(_ table: PostgresTable<O>, key: [String], on connection: PostgresConnection) async throws -> (text: String, object: O)? {
        let rows = try await run("SELECT data FROM \(table.name) WHERE \(table.keyPredicate())",
                                 key.map(PostgresBindValue.text), on: connection)
        guard let row = rows.first else { return nil }
        let text = try bodyText(O.self, row)
        return (text, try StorageCodec.decode(O.self, from: text))
    }

    /// Rewrites the row only if its body is still `expected`; returns whether it did.
    func compareAndSwapRow<O>(_ table: PostgresTable<O>, _ object: O, expected: String, on connection: PostgresConnection) async throws -> Bool {
        !(try await writeRow(table, object, expected: expected, on: connection)).isEmpty
    }

    /// `UPDATE … SET <index columns>, data WHERE <key>`, with `AND data = <expected>` and a
    /// returned row per match when `expected` is given.
    private func writeRow<O>(_ table: PostgresTable<O>, _ object: O, expected: String?, on connection: PostgresConnection) async throws -> [PostgresRow] {
        let values = table.indexColumns + ["data"]
        let sets = values.enumerated().map { "\($0.element) = $\($0.offset + 1)" }.joined(separator: ", ")
        let keyStart = values.count + 1
        var binds = table.indexValues(object) + [.text(try StorageCodec.encode(object))] + table.key(object).map(PostgresBindValue.text)
        var sql = "UPDATE \(table.name) SET \(sets) WHERE \(table.keyPredicate(from: keyStart))"
        if let expected {
            binds.append(.text(expected))
            sql += " AND data = $\(keyStart + table.keyColumns.count) RETURNING 1"
        }
        return try await run(sql, binds, on: connection)
    }

    func selectRows<O>(_ table: PostgresTable<O>, where predicate: String? = nil, _ binds: [PostgresBindValue] = [],
                       on connection: PostgresConnection) async throws -> [O] {
        let filter = predicate.map { " WHERE \($0)" } ?? ""
        let rows = try await run("SELECT data FROM \(table.name)\(filter) ORDER BY \(table.orderBy)", binds, on: connection)
        return try rows.map { try decodeBody(O.self, $0) }
    }

    /// Rewrites the body and index columns of an existing row.
    func updateRow<O>(_ table: PostgresTable<O>, _ object: O, on connection: PostgresConnection) async throws {
        _ = try await writeRow(table, object, expected: nil, on: connection)
    }

    /// Deletes by key; returns whether a row existed.
    func deleteRow<O>(_ table: PostgresTable<O>, key: [String], on connection: PostgresConnection) async throws -> Bool {
        let rows = try await run("DELETE FROM \(table.name) WHERE \(table.keyPredicate()) RETURNING 1",
                                 key.map(PostgresBindValue.text), on: connection)
        return !rows.isEmpty
    }

    private func decodeBody<O: Decodable>(_ type: O.Type, _ row: PostgresRow) throws -> O {
        try StorageCodec.decode(type, from: try bodyText(O.self, row))
    }

    private func bodyText<O>(_ type: O.Type, _ row: PostgresRow) throws -> String {
        do {
            return try row.decode(String.self)
        } catch {
            throw StorageError.corrupt("\(O.self) row has no readable body")
        }
    }

    // MARK: Whole operations
    //
    // Writes run inside `transaction` (an explicit `COMMIT`), never as a lone autocommit
    // statement: PostgresNIO completes a query at the server's CommandComplete, and an implicit
    // transaction only commits afterwards, when the server processes Sync. A caller could then
    // answer its client before the write is visible, and the client's next request, served on
    // another pooled connection or another replica, would not find it (a code just issued, a
    // token just rotated). `COMMIT`'s own CommandComplete comes after the commit.

    func create<O>(_ table: PostgresTable<O>, _ object: O) async throws {
        let inserted = try await transaction { try await self.insertRow(table, object, on: $0) }
        guard inserted else { throw StorageError.alreadyExists }
    }

    func get<O>(_ table: PostgresTable<O>, key: [String]) async throws -> O {
        guard let row = try await withConnection({ try await self.selectRowText(table, key: key, on: $0) }) else {
            throw StorageError.notFound
        }
        if table.remembersReads { recentReads.remember(RecentReads.slot(table.name, key), text: row.text, object: row.object) }
        return row.object
    }

    func list<O>(_ table: PostgresTable<O>, where predicate: String? = nil, _ binds: [PostgresBindValue] = []) async throws -> [O] {
        try await withConnection { try await self.selectRows(table, where: predicate, binds, on: $0) }
    }

    /// Read-modify-write in one serializable transaction (retried on conflict); the updater must
    /// keep the key. Local updates of the same object queue first (`KeyedUpdateLock`).
    ///
    /// When `get` just read the row (`RecentReads`), the transaction starts with a compare-and-swap
    /// of the updated remembered row (`UPDATE … AND data = $old`): `BEGIN`, `UPDATE`, `COMMIT`
    /// instead of `BEGIN`, `SELECT`, `UPDATE`, `COMMIT`. If the row changed since (another
    /// replica), or the updater refuses the remembered row, it continues as before: read, update,
    /// write, in the same transaction.
    func update<O>(_ table: PostgresTable<O>, key: [String], _ update: @escaping @Sendable (inout O) throws -> Void) async throws {
        try await updateLock.withLock(table.lockKey(key)) {
            var swap: (object: O, expected: String)?
            if table.remembersReads, let remembered = self.recentReads.take(RecentReads.slot(table.name, key)),
               var object = remembered.object as? O, (try? update(&object)) != nil, table.key(object) == key {
                swap = (object, remembered.text)
            }
            // A single-column key: the swap joins concurrent ones in one transaction; if the row
            // changed since, the per-row transaction below reads it again.
            if let batched = swap, table.keyColumns.count == 1 {
                let write = PostgresBatchedWrite(
                    table: table.name, keyColumn: table.keyColumns[0], indexColumns: table.indexColumns, key: key[0],
                    values: table.indexValues(batched.object) + [.text(try StorageCodec.encode(batched.object))],
                    expected: batched.expected)
                if try await self.batchedCompareAndSwap(write) { return }
                swap = nil
            }
            let rememberedSwap = swap
            try await self.transaction { connection in
                if let rememberedSwap,
                   try await self.compareAndSwapRow(table, rememberedSwap.object, expected: rememberedSwap.expected, on: connection) {
                    return
                }
                guard var object = try await self.selectRow(table, key: key, on: connection) else {
                    throw StorageError.notFound
                }
                try update(&object)
                guard table.key(object) == key else {
                    throw StorageError.corrupt("an updater must not change the object's key")
                }
                try await self.updateRow(table, object, on: connection)
            }
        }
    }

    func delete<O>(_ table: PostgresTable<O>, key: [String]) async throws {
        if table.remembersReads { recentReads.forget(RecentReads.slot(table.name, key)) }
        let deleted = try await transaction { try await self.deleteRow(table, key: key, on: $0) }
        guard deleted else { throw StorageError.notFound }
    }
}
