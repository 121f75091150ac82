import Foundation
import SQLiteNIO

/// How one object type maps onto its table: key columns, indexed columns and the JSON body.
///
/// The SQL is built only from these constant names; every value is a bound parameter.
struct SQLiteTable<Object: Codable & Sendable>: Sendable {
    let name: String
    let keyColumns: [String]
    let key: @Sendable (Object) -> [SQLiteData]
    /// Columns kept in step with the body so queries can use them (e.g. `expiry_us`).
    let indexColumns: [String]
    let indexValues: @Sendable (Object) -> [SQLiteData]
    let orderBy: String
    /// `get` remembers the row for the `update` that usually follows (see `RecentReads`).
    let remembersReads: Bool
    /// Concurrent `get`s and compare-and-swap writes run as one statement per batch (see
    /// `SQLiteRowBatches`); nil for tables off the token path.
    let batches: SQLiteRowBatches?

    /// `WHERE` clause of one row by key: `id = ?` (and `… AND …` for compound keys).
    let keyPredicate: String
    /// `SELECT data` of one row; binds: the key.
    let selectByKey: String
    /// `UPDATE … SET <index columns>, data WHERE <key>`; binds: index values, body, key.
    let updateByKey: String
    /// The compare-and-swap writes, one per subset of `indexColumns` (bit i: column i), built
    /// once: statements on the token path are not assembled from strings per call.
    private let compareAndSwapStatements: [String]

    init(
        _ name: String, keyColumns: [String], key: @escaping @Sendable (Object) -> [SQLiteData],
        indexColumns: [String] = [], indexValues: @escaping @Sendable (Object) -> [SQLiteData] = { _ in [] },
        orderBy: String? = nil, remembersReads: Bool = false, batches: Bool = false
    ) {
        self.name = name; self.keyColumns = keyColumns; self.key = key
        self.indexColumns = indexColumns; self.indexValues = indexValues
        self.orderBy = orderBy ?? keyColumns.joined(separator: ", ")
        self.remembersReads = remembersReads
        let keyPredicate = keyColumns.map { "\($0) = ?" }.joined(separator: " AND ")
        self.keyPredicate = keyPredicate
        self.selectByKey = "SELECT data FROM \(name) WHERE \(keyPredicate)"
        func update(_ columns: [String]) -> String {
            "UPDATE \(name) SET \((columns + ["data"]).map { "\($0) = ?" }.joined(separator: ", ")) WHERE \(keyPredicate)"
        }
        self.updateByKey = update(indexColumns)
        self.compareAndSwapStatements = (0..<(1 << indexColumns.count)).map { mask in
            update(indexColumns.indices.filter { mask & (1 << $0) != 0 }.map { indexColumns[$0] }) + " AND data = ? RETURNING 1 AS updated"
        }
        precondition(!batches || keyColumns.count == 1, "only tables with a one-column key batch")
        self.batches = batches ? SQLiteRowBatches(
            table: name, keyColumn: keyColumns[0], indexColumns: indexColumns,
            selectOne: selectByKey, compareAndSwapOne: compareAndSwapStatements
        ) : nil
    }

    /// This row's name in `RecentReads`.
    func slot(_ key: [SQLiteData]) -> String {
        RecentReads.slot(name, key.map { if case .text(let text) = $0 { text } else { $0.description } })
    }

    /// `SELECT data` of every row matching `predicate` (all rows when nil), in key order.
    func selectAll(where predicate: String?) -> String {
        "SELECT data FROM \(name)\(predicate.map { " WHERE \($0)" } ?? "") ORDER BY \(orderBy)"
    }

    /// The compare-and-swap write: `UPDATE … SET <the index columns in mask>, data WHERE <key>
    /// AND data = ? RETURNING 1 AS updated`, which matches only the body as read; binds: those
    /// columns' values (in `indexColumns` order), body, key, the body as read.
    func compareAndSwap(changedColumns mask: Int) -> String {
        compareAndSwapStatements[mask]
    }
}

extension SQLiteData {
    /// A time column value: UTC Unix microseconds.
    static func time(_ date: Date) -> SQLiteData { .integer(SQLiteInt64(StorageCodec.microseconds(date))) }
}

// Row operations. Callers hold the connection lock (`withConnection` or `transaction`).
extension SQLiteStorage {
    /// Inserts unless the key is taken; returns whether a row was written.
    func insertRow<O>(_ table: SQLiteTable<O>, _ object: O) async throws -> Bool {
        let columns = table.keyColumns + table.indexColumns + ["data"]
        let placeholders = Array(repeating: "?", count: columns.count).joined(separator: ", ")
        let binds = table.key(object) + table.indexValues(object) + [.text(try StorageCodec.encode(object))]
        let rows = try await execute(
            "INSERT INTO \(table.name) (\(columns.joined(separator: ", "))) VALUES (\(placeholders)) "
                + "ON CONFLICT DO NOTHING RETURNING 1 AS inserted",
            binds
        )
        return !rows.isEmpty
    }

    func selectRow<O>(_ table: SQLiteTable<O>, key: [SQLiteData]) async throws -> O? {
        try await execute(table.selectByKey, key).first.map { try decodeBody(O.self, $0) }
    }

    func selectRows<O>(_ table: SQLiteTable<O>, where predicate: String? = nil, _ binds: [SQLiteData] = []) async throws -> [O] {
        try await execute(table.selectAll(where: predicate), binds).map { try decodeBody(O.self, $0) }
    }

    /// Rewrites the body and index columns of an existing row.
    func updateRow<O>(_ table: SQLiteTable<O>, _ object: O) async throws {
        let binds = table.indexValues(object) + [.text(try StorageCodec.encode(object))] + table.key(object)
        try await execute(table.updateByKey, binds)
    }

    /// Deletes by key; returns whether a row existed.
    func deleteRow<O>(_ table: SQLiteTable<O>, key: [SQLiteData]) async throws -> Bool {
        !(try await execute("DELETE FROM \(table.name) WHERE \(table.keyPredicate) RETURNING 1 AS deleted", key)).isEmpty
    }

    private func decodeBody<O: Decodable>(_ type: O.Type, _ row: SQLiteRow) throws -> O {
        try StorageCodec.decode(type, from: try bodyText(O.self, row))
    }

    private func bodyText<O>(_ type: O.Type, _ row: SQLiteRow) throws -> String {
        guard let text = row.column("data")?.string else { throw StorageError.corrupt("\(O.self) row has no body") }
        return text
    }

    // MARK: Whole operations (each takes the lock itself)

    func create<O>(_ table: SQLiteTable<O>, _ object: O) async throws {
        let inserted = try await withConnection { try await insertRow(table, object) }
        guard inserted else { throw StorageError.alreadyExists }
    }

    /// One row by key, read without the connection lock (see `read`).
    func get<O>(_ table: SQLiteTable<O>, key: [SQLiteData]) async throws -> O {
        let text: String
        if let batches = table.batches, case .text(let keyText) = key[0] {
            guard let body = try await batchedRead(SQLiteBatchedRead(batches: batches, key: keyText)) else {
                throw StorageError.notFound
            }
            text = body
        } else {
            guard let row = try await read(table.selectByKey, key).first else { throw StorageError.notFound }
            text = try bodyText(O.self, row)
        }
        let object = try StorageCodec.decode(O.self, from: text)
        if table.remembersReads { recentReads.remember(table.slot(key), text: text, object: object) }
        return object
    }

    /// Every row (optionally filtered), read without the connection lock (see `read`).
    func list<O>(_ table: SQLiteTable<O>, where predicate: String? = nil, _ binds: [SQLiteData] = []) async throws -> [O] {
        try await read(table.selectAll(where: predicate), binds).map { try decodeBody(O.self, $0) }
    }

    /// Read-modify-write as an optimistic compare-and-swap; the updater must keep the key.
    ///
    /// Two statements, no explicit transaction: the row is read, and written back only if its
    /// body is still the text that was read (`WHERE … AND data = ?`); a write that matches nothing
    /// means another writer came first, and the updater runs again on the fresh row. This halves
    /// the statements of the old `BEGIN IMMEDIATE`/`SELECT`/`UPDATE`/`COMMIT` form, and holds the
    /// lock for one of them, where a refresh grant is mostly statement round trips
    /// (docs/benchmarks.md).
    func update<O>(_ table: SQLiteTable<O>, key: [SQLiteData], _ update: (inout O) throws -> Void) async throws {
        let select = table.selectByKey

        /// Applies the updater to the row as read and returns the binds of the compare-and-swap write.
        func apply(_ rows: [SQLiteRow]) throws -> (sql: String, binds: [SQLiteData], mask: Int) {
            guard let row = rows.first else { throw StorageError.notFound }
            let text = try bodyText(O.self, row)
            return try apply(try StorageCodec.decode(O.self, from: text), text: text)
        }
        func apply(_ read: O, text: String) throws -> (sql: String, binds: [SQLiteData], mask: Int) {
            var object = read
            try update(&object)
            guard table.key(object) == key else {
                throw StorageError.corrupt("an updater must not change the object's key")
            }
            // Only index columns whose value changed are written: assigning a column rewrites its
            // index entry even when the value is the same (a refresh grant changes `last_used_us`,
            // never `created_at_us`).
            let before = table.indexValues(read), after = table.indexValues(object)
            var mask = 0, binds: [SQLiteData] = []
            binds.reserveCapacity(after.count + key.count + 2)
            for i in table.indexColumns.indices where before[i] != after[i] {
                mask |= 1 << i
                binds.append(after[i])
            }
            binds.append(.text(try StorageCodec.encode(object)))
            binds.append(contentsOf: key)
            binds.append(.text(text))
            return (table.compareAndSwap(changedColumns: mask), binds, mask)
        }

        // Fast path: the read takes no lock and the write is one statement under it, so the lock
        // is held for a single round trip (the common case: nobody else touches this row). A row
        // `get` just read stands in for the read; the write still checks it is current, and an
        // updater that refuses a remembered row is asked again with the stored one.
        /// The fast path's one write: alone, or batched with concurrent writes of other rows.
        func write(_ write: (sql: String, binds: [SQLiteData], mask: Int)) async throws -> Bool {
            if let batches = table.batches, case .text(let keyText) = key[0] {
                // binds: changed index values, body, key, expected body (see `apply`).
                let values = Array(write.binds[..<(write.binds.count - 2)])
                guard case .text(let expected) = write.binds[write.binds.count - 1] else { preconditionFailure("expected body is text") }
                return try await batchedWrite(SQLiteBatchedWrite(batches: batches, mask: write.mask, key: keyText, values: values, expected: expected))
            }
            return !(try await withConnection { try await execute(write.sql, write.binds) }).isEmpty
        }
        if table.remembersReads, let remembered = recentReads.take(table.slot(key)),
           let object = remembered.object as? O, let cas = try? apply(object, text: remembered.text) {
            if try await write(cas) { return }
        } else {
            if try await write(try apply(try await read(select, key))) { return }
        }

        // Lost a race: read and write under the lock, which no writer of this process can pass;
        // only another process writing the same file can still make a round fail.
        try await withConnection {
            for _ in 0..<Self.updateAttempts {
                let write = try apply(try await execute(select, key))
                if !(try await execute(write.sql, write.binds)).isEmpty { return }
            }
            throw StorageError.conflict
        }
    }

    func delete<O>(_ table: SQLiteTable<O>, key: [SQLiteData]) async throws {
        if table.remembersReads { recentReads.forget(table.slot(key)) }
        let deleted = try await withConnection { try await deleteRow(table, key: key) }
        guard deleted else { throw StorageError.notFound }
    }
}
