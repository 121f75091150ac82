import Foundation
import Logging
import PostgresNIO

/// A Dex `postgres` database, read through a postgres-nio client of its own (Dex's connection
/// settings, `PostgresStorage.makeConfiguration`). Opening runs no migration: only SELECTs on
/// Dex's tables and `information_schema` are issued. Each statement has `connectionTimeout`
/// as its deadline, so an unreachable server fails the copy instead of hanging it.
final class DexPostgresDatabase: DexSQLDatabase {
    private let client: PostgresClient
    private let logger: Logger
    private let timeout: Duration
    private let runTask: Task<Void, Never>

    private init(client: PostgresClient, logger: Logger, timeout: Duration) {
        self.client = client
        self.logger = logger
        self.timeout = timeout
        self.runTask = Task { await client.run() }
    }

    deinit { runTask.cancel() }

    static func open(_ options: PostgresOptions, logger: Logger) throws -> DexPostgresDatabase {
        var poolLogger = logger
        if poolLogger.logLevel < .warning { poolLogger.logLevel = .warning }
        let configuration = try PostgresStorage.makeConfiguration(options)
        let seconds = options.connectionTimeout > 0 ? options.connectionTimeout : 10
        return DexPostgresDatabase(client: PostgresClient(configuration: configuration, backgroundLogger: poolLogger),
                                   logger: logger, timeout: .milliseconds(Int64(seconds * 1000)))
    }

    func columns(of table: String) async throws -> Set<String> {
        let rows = try await query(
            "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1",
            [table])
        return Set(try rows.map { try $0.decode(String.self) })
    }

    func page(of table: DexSQLTable, after: [String]?, limit: Int) async throws -> [DexSQLRow] {
        let sql = "SELECT * FROM \(table.name)" + Self.keysetClause(table, after: after) { "$\($0)" } + " LIMIT \(limit)"
        let rows = try await query(sql, after ?? [])
        return try rows.map { row in
            var values: [String: DexSQLValue] = [:]
            for cell in row { values[cell.columnName] = try Self.value(cell, table: table.name) }
            return DexSQLRow(table: table.name, values: values)
        }
    }

    func close() async throws {
        runTask.cancel()
        await runTask.value
    }

    private func query(_ sql: String, _ binds: [String]) async throws -> [PostgresRow] {
        var bindings = PostgresBindings(capacity: binds.count)
        for bind in binds { bindings.append(bind) }
        let query = PostgresQuery(unsafeSQL: sql, binds: bindings)
        let client = self.client
        let logger = self.logger
        do {
            return try await PostgresStorage.withDeadline(timeout) {
                try await client.query(query, logger: logger).collect()
            }
        } catch let error as PSQLError {
            throw PostgresStorage.storageError(error)
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError.unavailable("postgres: \(error)")
        }
    }

    /// Dex's column types: text, bytea, boolean, timestamptz and integer.
    private static func value(_ cell: PostgresCell, table: String) throws -> DexSQLValue {
        guard cell.bytes != nil else { return .null }
        do {
            switch cell.dataType {
            case .bytea: return .blob(try cell.decode(Data.self))
            case .bool: return .bool(try cell.decode(Bool.self))
            case .timestamptz, .timestamp, .date: return .time(try cell.decode(Date.self))
            case .int2, .int4, .int8: return .integer(Int64(try cell.decode(Int.self)))
            case .float4, .float8: return .real(try cell.decode(Double.self))
            default: return .text(try cell.decode(String.self))
            }
        } catch {
            throw StorageError.corrupt("Dex \(table).\(cell.columnName) cannot be read as \(cell.dataType): \(error)")
        }
    }
}
