import Foundation
import PostgresNIO

/// Numbered schema migrations for `PostgresStorage`, after Dex's `storage/sql/migrate.go`
/// (applied versions in `migrations(num, at)`).
///
/// Replicas that start together must not apply a migration twice, so each one runs in a
/// READ COMMITTED transaction that first takes a transaction-scoped advisory lock; the check of
/// `migrations` happens after the lock, with a fresh snapshot, so it sees a migration another
/// replica committed while we waited. (Under SERIALIZABLE the snapshot would predate the wait.)
/// Migrations are append-only: never edit a released one, add the next number.
///
/// The layout matches `SQLiteStorage`: each object is a JSON body in `data` (`StorageCodec`) plus
/// the columns queried on. Time columns (`*_us`) are UTC Unix microseconds.
enum PostgresMigrations {
    /// An arbitrary constant identifying Fedgate's migration lock among advisory locks.
    static let advisoryLockKey: Int64 = 0x6665_6467_6174_6531 // "fedgate1"

    static let all: [[String]] = [
        // 1: the initial schema.
        [
            "CREATE TABLE client (id TEXT NOT NULL PRIMARY KEY, data TEXT NOT NULL)",
            "CREATE TABLE auth_request (id TEXT NOT NULL PRIMARY KEY, expiry_us BIGINT NOT NULL, data TEXT NOT NULL)",
            "CREATE INDEX auth_request_expiry ON auth_request (expiry_us)",
            "CREATE TABLE auth_code (id TEXT NOT NULL PRIMARY KEY, expiry_us BIGINT NOT NULL, data TEXT NOT NULL)",
            "CREATE INDEX auth_code_expiry ON auth_code (expiry_us)",
            """
            CREATE TABLE refresh_token (id TEXT NOT NULL PRIMARY KEY, created_at_us BIGINT NOT NULL,
                last_used_us BIGINT NOT NULL, data TEXT NOT NULL)
            """,
            "CREATE INDEX refresh_token_created_at ON refresh_token (created_at_us)",
            "CREATE INDEX refresh_token_last_used ON refresh_token (last_used_us)",
            "CREATE TABLE password (email TEXT NOT NULL PRIMARY KEY, data TEXT NOT NULL)",
            """
            CREATE TABLE offline_session (user_id TEXT NOT NULL, conn_id TEXT NOT NULL, data TEXT NOT NULL,
                PRIMARY KEY (user_id, conn_id))
            """,
            // Which sessions reference which refresh token, so garbage collection finds the
            // sessions of collected tokens by index instead of scanning JSON.
            """
            CREATE TABLE offline_session_ref (refresh_id TEXT NOT NULL, user_id TEXT NOT NULL, conn_id TEXT NOT NULL,
                PRIMARY KEY (refresh_id, user_id, conn_id))
            """,
            "CREATE INDEX offline_session_ref_session ON offline_session_ref (user_id, conn_id)",
            "CREATE TABLE connector (id TEXT NOT NULL PRIMARY KEY, data TEXT NOT NULL)",
            "CREATE TABLE keys (id TEXT NOT NULL PRIMARY KEY, data TEXT NOT NULL)",
            "CREATE TABLE device_request (user_code TEXT NOT NULL PRIMARY KEY, expiry_us BIGINT NOT NULL, data TEXT NOT NULL)",
            "CREATE INDEX device_request_expiry ON device_request (expiry_us)",
            "CREATE TABLE device_token (device_code TEXT NOT NULL PRIMARY KEY, expiry_us BIGINT NOT NULL, data TEXT NOT NULL)",
            "CREATE INDEX device_token_expiry ON device_token (expiry_us)",
            "CREATE TABLE login_throttle (key TEXT NOT NULL PRIMARY KEY, expiry_us BIGINT NOT NULL, data TEXT NOT NULL)",
            "CREATE INDEX login_throttle_expiry ON login_throttle (expiry_us)",
        ],
    ]

    static func run(on store: PostgresStorage) async throws {
        for (index, statements) in all.enumerated() {
            let version = index + 1
            let applied = try await store.withConnection { connection in
                try await apply(version: version, statements: statements, store: store, on: connection)
            }
            if applied { store.logger.info("applied PostgreSQL migration", metadata: ["version": "\(version)"]) }
        }
        let newest = try await store.schemaVersion()
        guard newest <= all.count else {
            throw StorageError.unavailable(
                "PostgreSQL schema version \(newest) is newer than this Fedgate understands (\(all.count))")
        }
    }

    private static func apply(version: Int, statements: [String], store: PostgresStorage,
                              on connection: PostgresConnection) async throws -> Bool {
        try await store.run("BEGIN ISOLATION LEVEL READ COMMITTED", on: connection)
        do {
            try await store.run("SELECT pg_advisory_xact_lock($1)", [.integer(advisoryLockKey)], on: connection)
            // Under the lock: two replicas creating it at once would race in the catalog.
            try await store.run(
                "CREATE TABLE IF NOT EXISTS migrations (num INTEGER NOT NULL PRIMARY KEY, at TIMESTAMPTZ NOT NULL)",
                on: connection)
            let done = try await store.run("SELECT 1 FROM migrations WHERE num = $1", [.integer(Int64(version))], on: connection)
            guard done.isEmpty else {
                try await store.run("COMMIT", on: connection)
                return false
            }
            for sql in statements { try await store.run(sql, on: connection) }
            try await store.run("INSERT INTO migrations (num, at) VALUES ($1, now())", [.integer(Int64(version))], on: connection)
            try await store.run("COMMIT", on: connection)
            return true
        } catch {
            _ = try? await store.run("ROLLBACK", on: connection)
            throw error
        }
    }
}

extension PostgresStorage {
    /// The schema version this build migrates a database to.
    public static var latestSchemaVersion: Int { PostgresMigrations.all.count }
}
