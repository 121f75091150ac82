import Foundation
import Logging
import SQLiteNIO

/// A Dex `sqlite3` database file, read through sqlite-nio (statements run on its thread pool, so
/// no event loop blocks on disk). Only SELECTs and `PRAGMA table_info` are issued; the file is
/// never migrated or written.
final class DexSQLiteDatabase: DexSQLDatabase {
    private let connection: SQLiteConnection

    private init(connection: SQLiteConnection) { self.connection = connection }

    deinit {
        if !connection.isClosed { _ = connection.close() }
    }

    /// Opens an existing file; a missing file is an error (opening would create an empty one).
    static func open(file: String, logger: Logger) async throws -> DexSQLiteDatabase {
        guard FileManager.default.fileExists(atPath: file) else {
            throw StorageError.unavailable("no SQLite database at \(file)")
        }
        do {
            let connection = try await SQLiteConnection.open(storage: .file(path: file), logger: logger)
            let database = DexSQLiteDatabase(connection: connection)
            // Dex may still be running on the file: wait for its write lock instead of failing.
            _ = try await database.query("PRAGMA busy_timeout = \(SQLiteStorage.busyTimeoutMilliseconds)")
            return database
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError.unavailable("cannot open SQLite database at \(file): \(error)")
        }
    }

    func columns(of table: String) async throws -> Set<String> {
        // PRAGMA arguments cannot be bound; `table` is one of Dex's constant table names.
        Set(try await query("PRAGMA table_info(\(table))").compactMap { $0.column("name")?.string })
    }

    func page(of table: DexSQLTable, after: [String]?, limit: Int) async throws -> [DexSQLRow] {
        let sql = "SELECT * FROM \(table.name)" + Self.keysetClause(table, after: after) { _ in "?" } + " LIMIT \(limit)"
        let rows = try await query(sql, (after ?? []).map { .text($0) })
        return rows.map { row in
            var values: [String: DexSQLValue] = [:]
            for column in row.columns { values[column.name] = Self.value(column.data) }
            return DexSQLRow(table: table.name, values: values)
        }
    }

    func close() async throws {
        guard !connection.isClosed else { return }
        try await connection.close()
    }

    private func query(_ sql: String, _ binds: [SQLiteData] = []) async throws -> [SQLiteRow] {
        do {
            return try await connection.query(sql, binds)
        } catch {
            throw SQLiteStorage.storageError(error)
        }
    }

    private static func value(_ data: SQLiteData) -> DexSQLValue {
        switch data {
        case .integer(let value): .integer(Int64(value))
        case .float(let value): .real(value)
        case .text(let text): .text(text)
        case .blob(var buffer): .blob(buffer.readData(length: buffer.readableBytes) ?? Data())
        case .null: .null
        }
    }
}
