import Foundation
import SQLiteNIO

/// Numbered schema migrations for `SQLiteStorage`, after Dex's `storage/sql/migrate.go`.
///
/// Applied versions are recorded in `migrations(version, applied_at)`. Each migration runs once,
/// in its own `BEGIN IMMEDIATE` transaction that first re-checks the table, so two processes
/// opening the same new file at once apply it exactly once. Migrations are append-only: never
/// edit a released one, add the next number.
///
/// Table names follow Dex. Each object is a JSON body in `data` plus the columns queried on.
/// Time columns (`*_us`) are UTC Unix microseconds.
enum SQLiteMigrations {
    static let all: [[String]] = [
        // 1: the initial schema.
        [
            "CREATE TABLE client (id TEXT NOT NULL PRIMARY KEY, data TEXT NOT NULL)",
            """
            CREATE TABLE auth_request (id TEXT NOT NULL PRIMARY KEY, expiry_us INTEGER NOT NULL, data TEXT NOT NULL)
            """,
            "CREATE INDEX auth_request_expiry ON auth_request (expiry_us)",
            "CREATE TABLE auth_code (id TEXT NOT NULL PRIMARY KEY, expiry_us INTEGER NOT NULL, data TEXT NOT NULL)",
            "CREATE INDEX auth_code_expiry ON auth_code (expiry_us)",
            """
            CREATE TABLE refresh_token (id TEXT NOT NULL PRIMARY KEY, created_at_us INTEGER NOT NULL,
                last_used_us INTEGER NOT NULL, data TEXT NOT NULL)
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
            "CREATE TABLE keys (id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL)",
            """
            CREATE TABLE device_request (user_code TEXT NOT NULL PRIMARY KEY, expiry_us INTEGER NOT NULL,
                data TEXT NOT NULL)
            """,
            "CREATE INDEX device_request_expiry ON device_request (expiry_us)",
            """
            CREATE TABLE device_token (device_code TEXT NOT NULL PRIMARY KEY, expiry_us INTEGER NOT NULL,
                data TEXT NOT NULL)
            """,
            "CREATE INDEX device_token_expiry ON device_token (expiry_us)",
        ],
        // 2: brute-force throttles.
        [
            "CREATE TABLE login_throttle (key TEXT NOT NULL PRIMARY KEY, expiry_us INTEGER NOT NULL, data TEXT NOT NULL)",
            "CREATE INDEX login_throttle_expiry ON login_throttle (expiry_us)",
        ],
    ]

    static func run(on store: SQLiteStorage) async throws {
        try await store.withConnection {
            _ = try await store.execute(
                "CREATE TABLE IF NOT EXISTS migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
        }
        let newest = try await store.schemaVersion()
        guard newest <= all.count else {
            throw StorageError.unavailable(
                "SQLite schema version \(newest) is newer than this Fedgate understands (\(all.count))")
        }
        for (index, statements) in all.enumerated() {
            let version = index + 1
            let applied = try await store.transaction { () -> Bool in
                let done = try await store.execute("SELECT 1 FROM migrations WHERE version = ?", [.integer(version)])
                guard done.isEmpty else { return false }
                for sql in statements { _ = try await store.execute(sql) }
                _ = try await store.execute(
                    "INSERT INTO migrations (version, applied_at) VALUES (?, ?)",
                    [.integer(version), .text(Self.appliedAt())]
                )
                return true
            }
            if applied { store.logger.info("applied SQLite migration", metadata: ["version": "\(version)"]) }
        }
    }
}

extension SQLiteStorage {
    /// The schema version this build migrates a database to.
    public static var latestSchemaVersion: Int { SQLiteMigrations.all.count }
}

extension SQLiteMigrations {
    /// `migrations.applied_at`: the current UTC time to the second, "2006-01-02T15:04:05Z" (what
    /// `Date.ISO8601FormatStyle` wrote). Formatted with `EtcdGoTime`'s integer calendar arithmetic
    /// instead, since Foundation's formatter resolves a calendar and time zone through ICU and
    /// pages in about 1 MiB of code on a first start (issue 3, idle RSS).
    static func appliedAt(_ now: Date = Date()) -> String {
        EtcdGoTime.format(Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down)))
    }
}
