import Foundation
import Glibc
import Logging
import NIOCore
import SQLiteNIO

/// A single-file backend over SQLite (Dex's `sqlite3` storage), through vapor/sqlite-nio.
///
/// One connection serves every call. sqlite-nio runs each statement on its thread pool, so no
/// event loop ever blocks on disk. Because a transaction is several awaited statements, every
/// use of the connection is serialised by a FIFO `SQLiteTransactionLock` (an actor would
/// interleave transactions at each `await`). Updates are an optimistic read-modify-write: the
/// write matches only the body that was read, so they are atomic against this process and against
/// any other process using the same file; the updater runs again only if another process changed
/// the row in between, and a throwing updater writes nothing.
///
/// The file is put in WAL mode with `synchronous=NORMAL` (a commit is durable once the WAL is
/// checkpointed or the OS flushes it; a crash never corrupts the database), a busy timeout for
/// other processes, and foreign keys off. Times are stored as UTC Unix microseconds
/// (`StorageCodec`), so the process time zone never matters.
///
/// Call `close()` when done: sqlite-nio asserts in debug builds when a connection is dropped open.
public final class SQLiteStorage: GatewayStorage {
    /// How long a statement waits for another process's lock before failing as unavailable.
    public static let busyTimeoutMilliseconds = 5_000
    /// Rows garbage collection deletes per statement (and per transaction), so a large store is
    /// cleaned in many short steps instead of one long write lock.
    static let gcPageSize = 500
    /// Compare-and-swap rounds an update makes before reporting a conflict (only another process
    /// writing the same row between a read and a write costs a round).
    static let updateAttempts = 50

    /// The connection every write and transaction uses, serialised by `lock`.
    let connection: SQLiteConnection
    /// A second connection, for a file only, that single-statement reads use without taking
    /// `lock`: in WAL mode a reader never waits for the writer and sees the last commit, so a
    /// read on the token path does not queue behind another request's write.
    private let readConnection: LockedReader
    let lock = SQLiteTransactionLock()
    /// One statement at a time on the read connection. SQLite keeps a connection's read
    /// transaction open while any of its statements is active, and a statement started meanwhile
    /// joins that older snapshot; with several pool threads (an unpinned multi-core host) a read
    /// could then miss a commit this process made before the read began, such as the rotation a
    /// client's next refresh presents.
    private let readLock = SQLiteTransactionLock()
    /// Rows `get` read for the `update` that follows (refresh tokens; see `RecentReads`).
    let recentReads = RecentReads()
    /// Concurrent reads and writes of the token path's rows, one statement per batch
    /// (`SQLiteRowBatches`); one coalescer per table, so one table's batch never waits for another's.
    let readBatches = Dictionary(uniqueKeysWithValues: SQLiteTables.batched.map {
        ($0.table, Coalescer<SQLiteBatchedRead, String?>(limit: SQLiteRowBatches.limit))
    })
    let writeBatches = Dictionary(uniqueKeysWithValues: SQLiteTables.batched.map {
        ($0.table, Coalescer<SQLiteBatchedWrite, Bool>(limit: SQLiteRowBatches.limit))
    })
    /// Refresh grants' combined token-and-user reads (`SQLiteTokenUserReads`).
    let tokenUserReads = Coalescer<TokenUserRead, TokenUserRow?>(limit: SQLiteRowBatches.limit)
    let logger: Logger

    private init(connection: SQLiteConnection, logger: Logger) {
        self.connection = connection
        self.readConnection = LockedReader()
        self.logger = logger
    }

    deinit {
        // Safety net for a storage dropped without `close()`: the close future keeps the
        // connection alive until the handle is released on the thread pool.
        if !connection.isClosed { _ = connection.close() }
        if let reader = readConnection.take(), !reader.isClosed { _ = reader.close() }
    }

    /// Opens (creating if needed) the database at `file` and brings its schema up to date.
    /// - Parameter file: a file path, or `":memory:"` for a private in-memory database.
    public static func open(file: String, logger: Logger) async throws -> SQLiteStorage {
        let storage: SQLiteConnection.Storage = file == ":memory:" ? .memory : .file(path: file)
        if file != ":memory:" { try restrictToOwner(file: file, logger: logger) }
        let connection: SQLiteConnection
        do {
            connection = try await SQLiteConnection.open(storage: storage, logger: logger)
        } catch {
            throw StorageError.unavailable("cannot open SQLite database at \(file): \(error)")
        }
        let store = SQLiteStorage(connection: connection, logger: logger)
        do {
            // Two processes opening one new file at once: switching it to WAL can answer
            // SQLITE_BUSY at once, without the busy handler (SQLite does not wait inside a
            // journal-mode change). Both steps are idempotent, so wait a little and repeat.
            for attempt in 1... {
                do {
                    try await store.configure(file: file)
                    try await SQLiteMigrations.run(on: store)
                    break
                } catch let error as StorageError where error.isUnavailable && error.reason.contains("database is locked") && attempt < 100 {
                    try await Task.sleep(nanoseconds: 20_000_000)
                }
            }
            if file != ":memory:" { try await store.openReader(file: file) }
        } catch {
            try? await store.close()
            throw error
        }
        return store
    }

    /// The database holds signing keys, client secrets and password hashes, so it and its WAL
    /// and shared-memory files are readable by their owner only (0600). SQLite would create a
    /// new file with 0644 under the usual umask; creating it empty first with 0600 makes SQLite
    /// use that mode for the `-wal` and `-shm` files too. Files that exist with group or other
    /// permissions are tightened, with a notice.
    static func restrictToOwner(file: String, logger: Logger) throws {
        let descriptor = Glibc.open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if descriptor >= 0 {
            Glibc.close(descriptor)
        } else if errno != EEXIST {
            throw StorageError.unavailable("cannot create SQLite database at \(file): \(String(cString: strerror(errno)))")
        }
        for path in [file, file + "-wal", file + "-shm"] {
            var status = stat()
            guard stat(path, &status) == 0, status.st_mode & 0o077 != 0, status.st_mode & S_IFMT == S_IFREG else { continue }
            guard chmod(path, status.st_mode & 0o700) == 0 else {
                throw StorageError.unavailable("cannot restrict \(path) to its owner (mode 0600): \(String(cString: strerror(errno)))")
            }
            logger.notice("restricted SQLite file to its owner", metadata: [
                "file": .string(path), "was": .string(String(status.st_mode & 0o777, radix: 8)),
            ])
        }
    }

    /// Opens the read connection (after migrations, so it sees the final schema).
    private func openReader(file: String) async throws {
        let reader: SQLiteConnection
        do {
            reader = try await SQLiteConnection.open(storage: .file(path: file), logger: logger)
        } catch {
            throw StorageError.unavailable("cannot open SQLite database at \(file) for reading: \(error)")
        }
        do {
            _ = try await Self.run(reader, "PRAGMA busy_timeout = \(Self.busyTimeoutMilliseconds)")
            // A guard: nothing may ever write through this connection.
            _ = try await Self.run(reader, "PRAGMA query_only = ON")
        } catch {
            try? await reader.close()
            throw error
        }
        readConnection.set(reader)
    }

    private func configure(file: String) async throws {
        try await withConnection {
            // busy_timeout replaces sqlite-nio's default busy handler, which retries forever.
            _ = try await self.execute("PRAGMA busy_timeout = \(Self.busyTimeoutMilliseconds)")
            _ = try await self.execute("PRAGMA foreign_keys = OFF")
            let mode = try await self.execute("PRAGMA journal_mode = WAL").first?.column("journal_mode")?.string
            if file != ":memory:", mode?.lowercased() != "wal" {
                self.logger.warning("SQLite did not enable WAL", metadata: ["journal_mode": "\(mode ?? "unknown")"])
            }
            _ = try await self.execute("PRAGMA synchronous = NORMAL")
        }
    }

    /// The connection's journal mode (`"wal"` for a file, `"memory"` for `":memory:"`).
    public func journalMode() async throws -> String {
        try await withConnection {
            try await self.execute("PRAGMA journal_mode").first?.column("journal_mode")?.string ?? ""
        }
    }

    /// The highest schema migration applied to this database.
    public func schemaVersion() async throws -> Int {
        try await withConnection {
            Int(try await self.execute("SELECT MAX(version) AS v FROM migrations").first?.column("v")?.integer ?? 0)
        }
    }

    public func healthCheck() async throws {
        try await withConnection { _ = try await self.execute("SELECT 1") }
    }

    public func close() async throws {
        try await lock.withLock {
            if let reader = readConnection.take(), !reader.isClosed { try? await reader.close() }
            guard !connection.isClosed else { return }
            do {
                try await connection.close()
            } catch {
                throw Self.storageError(error)
            }
        }
    }

    // MARK: Serialised access

    /// Runs `body` with exclusive use of the connection (no transaction).
    func withConnection<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await lock.withLock {
            guard !connection.isClosed else { throw StorageError.unavailable("SQLite storage is closed") }
            return try await body()
        }
    }

    /// Runs `body` inside `BEGIN IMMEDIATE … COMMIT`, rolling back if anything throws.
    ///
    /// `IMMEDIATE` takes the write lock up front, so a read-modify-write never has to upgrade
    /// a read lock (which could fail with `SQLITE_BUSY` mid-transaction).
    func transaction<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await withConnection {
            _ = try await self.execute("BEGIN IMMEDIATE")
            do {
                let value = try await body()
                try await self.endTransaction("COMMIT")
                return value
            } catch {
                do {
                    try await self.endTransaction("ROLLBACK")
                } catch {
                    self.logger.error("SQLite rollback failed", metadata: ["error": "\(error)"])
                }
                throw error
            }
        }
    }

    /// `COMMIT` or `ROLLBACK`, run even when the calling task is cancelled: sqlite-nio's async
    /// `query` skips the statement in a cancelled task (`NIOThreadPool.runIfActive`), which would
    /// leave the connection inside the transaction, holding the write lock, for the next caller.
    /// The future-based `query` is not tied to the task.
    private func endTransaction(_ sql: String) async throws {
        let done: EventLoopFuture<Void> = connection.query(sql, []) { _ in }
        do { try await done.get() } catch { throw Self.storageError(error) }
    }

    /// Runs one statement; callers must hold the lock (`withConnection` or `transaction`).
    @discardableResult
    func execute(_ sql: String, _ binds: [SQLiteData] = []) async throws -> [SQLiteRow] {
        try await Self.run(connection, sql, binds)
    }

    /// Runs one read-only statement without the lock, on the read connection when there is one
    /// (a file); an in-memory database has only the one connection, so it takes the lock.
    func read(_ sql: String, _ binds: [SQLiteData] = []) async throws -> [SQLiteRow] {
        guard let reader = readConnection.value else {
            return try await withConnection { try await execute(sql, binds) }
        }
        return try await readLock.withLock {
            guard !reader.isClosed else { throw StorageError.unavailable("SQLite storage is closed") }
            return try await Self.run(reader, sql, binds)
        }
    }

    /// One statement on `connection`, in one thread-pool round trip.
    ///
    /// This calls `SQLiteConnection`'s own row-callback `query`, which prepares, steps and
    /// collects on the pool thread and resumes the caller once. The `[SQLiteRow]`-returning
    /// convenience goes through a future and submits every row to the event loop separately,
    /// several thread hand-offs per statement on the hot path.
    private static func run(_ connection: SQLiteConnection, _ sql: String, _ binds: [SQLiteData] = []) async throws -> [SQLiteRow] {
        nonisolated(unsafe) var rows: [SQLiteRow] = []
        do {
            // The callback runs synchronously on the pool thread before `query` returns.
            try await connection.query(sql, binds) { rows.append($0) }
        } catch {
            throw Self.storageError(error)
        }
        return rows
    }

    /// Maps driver errors onto `StorageError` (the bound values never appear in messages).
    static func storageError(_ error: any Error) -> any Error {
        guard let error = error as? SQLiteError else { return error }
        switch error.reason {
        case .corrupt, .notADatabase, .corruptIndex, .corruptSequenceSchema, .corruptVirtualTable:
            return StorageError.corrupt("sqlite: \(error.message)")
        case .constraintPrimaryKeyFailed, .constraintUniqueFailed:
            return StorageError.alreadyExists
        default:
            return StorageError.unavailable("sqlite: \(error.message)")
        }
    }
}

/// The optional read connection, set once after migrations and taken at close.
private final class LockedReader: @unchecked Sendable {
    private let lock = NSLock()
    private var connection: SQLiteConnection?

    var value: SQLiteConnection? { lock.withLock { connection } }
    func set(_ connection: SQLiteConnection) { lock.withLock { self.connection = connection } }
    func take() -> SQLiteConnection? { lock.withLock { defer { connection = nil }; return connection } }
}
