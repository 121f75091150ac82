import Foundation
import Logging
import PostgresNIO
import Synchronization

/// A shared backend over PostgreSQL (Dex's `postgres` storage), through vapor/postgres-nio.
///
/// Several Fedgate replicas can share one database. Every transaction is `SERIALIZABLE`, as in
/// Dex, so a read-modify-write that raced another replica's fails with SQLSTATE 40001 instead of
/// losing a write; unlike Dex (#1341, #787), the transaction is then retried, with jittered
/// exponential backoff, up to `maxAttempts` times before `StorageError.conflict`. Updates of one
/// object from this process are queued by `KeyedUpdateLock` first, so the retries only absorb
/// cross-replica races.
///
/// Connections come from postgres-nio's `PostgresClient` pool (sized by Dex's `maxOpenConns`),
/// whose `run()` this class drives on a task of its own. Every operation has a deadline of
/// `connectionTimeout`: while the server is down, calls fail with `StorageError.unavailable` within
/// that time rather than queueing forever, and the pool reconnects by itself once the server is
/// back (no restart needed). Times are stored as UTC Unix microseconds (`StorageCodec`).
///
/// Call `close()` when done.
public final class PostgresStorage: GatewayStorage {
    /// Attempts of one transaction before a serialization failure is reported as a conflict.
    /// With R replicas racing fairly on one row a transaction loses a round with probability
    /// (R-1)/R, so 40 rounds bound the failure odds near 1e-7 for three replicas; the
    /// operation deadline (`connectionTimeout`) bounds the time.
    public static let maxAttempts = 40
    /// Rows garbage collection deletes per statement, so a large backlog is cleaned in short steps.
    static let gcPageSize = 500

    let client: PostgresClient
    let logger: Logger
    let options: PostgresOptions
    let updateLock = KeyedUpdateLock()
    /// Rows `get` read for the `update` that follows (refresh tokens; see `RecentReads`).
    let recentReads = RecentReads()
    /// Group commit on the token path (`PostgresBatches`).
    let tokenUserReads = Coalescer<TokenUserRead, TokenUserRow?>(limit: PostgresBatches.limit)
    let writeBatches = Coalescer<PostgresBatchedWrite, Bool>(limit: PostgresBatches.limit)
    let operationTimeout: Duration
    private let runTask: Task<Void, Never>
    private let closed = LockedFlag()
    /// Serialization failures retried so far (tests and benchmarks read it).
    let retries = LockedCounter()
    /// Set when an operation found the server unreachable, cleared by the next success.
    private let outage = LockedSwitch()

    private init(client: PostgresClient, options: PostgresOptions, logger: Logger) {
        self.client = client
        self.options = options
        self.logger = logger
        self.operationTimeout = .milliseconds(Int64((options.connectionTimeout > 0 ? options.connectionTimeout : 10) * 1000))
        self.runTask = Task { await client.run() }
    }

    deinit { runTask.cancel() }

    /// Connects, then brings the schema up to date (numbered migrations, applied once even when
    /// several replicas start together).
    public static func open(_ options: PostgresOptions, logger: Logger) async throws -> PostgresStorage {
        let configuration = try makeConfiguration(options)
        // The pool logs every failed reconnect attempt at info; during an outage that is several
        // lines a second, so its background logger only passes warnings on.
        var poolLogger = logger
        if poolLogger.logLevel < .warning { poolLogger.logLevel = .warning }
        let store = PostgresStorage(client: PostgresClient(configuration: configuration, backgroundLogger: poolLogger),
                                    options: options, logger: logger)
        do {
            try await PostgresMigrations.run(on: store)
        } catch {
            try? await store.close()
            throw error
        }
        logger.info("opened PostgreSQL storage", metadata: ["database": "\(options.redactedDescription)"])
        return store
    }

    public func healthCheck() async throws {
        try await withConnection { connection in _ = try await self.run("SELECT 1", on: connection) }
    }

    public func close() async throws {
        guard closed.set() else { return }
        runTask.cancel()
        await runTask.value
    }

    /// The highest migration applied to this database.
    public func schemaVersion() async throws -> Int {
        try await withConnection { connection in
            let rows = try await self.run("SELECT COALESCE(MAX(num), 0)::BIGINT FROM migrations", on: connection)
            return Int(try rows.first?.decode(Int64.self) ?? 0)
        }
    }

    /// Serialization failures that were retried since the store was opened.
    public var retriedTransactions: Int { retries.value }

    // MARK: Running statements

    /// Runs `body` with one pooled connection, outside any explicit transaction.
    @discardableResult
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await withRetries {
            try await self.client.withConnection { connection in try await body(connection) }
        }
    }

    /// Runs `body` in a `SERIALIZABLE` transaction, retrying the whole transaction (body included)
    /// on a serialization failure or deadlock. Errors thrown by `body` itself roll back and
    /// propagate unchanged.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await withRetries {
            try await self.client.withConnection { connection in
                _ = try await self.run("BEGIN ISOLATION LEVEL SERIALIZABLE", on: connection)
                let value: T
                do {
                    value = try await body(connection)
                } catch {
                    await self.rollback(connection)
                    throw error
                }
                do {
                    _ = try await self.run("COMMIT", on: connection)
                } catch {
                    // A failed COMMIT leaves no transaction open, but make sure before reuse.
                    await self.rollback(connection)
                    throw error
                }
                return value
            }
        }
    }

    private func rollback(_ connection: PostgresConnection) async {
        do {
            _ = try await run("ROLLBACK", on: connection)
        } catch {
            // A connection stuck in an aborted transaction must not go back to the pool.
            logger.warning("postgres rollback failed; dropping the connection", metadata: ["error": "\(error)"])
            try? await connection.close()
        }
    }

    /// How long an operation waits while the server is known to be down: the pool keeps
    /// reconnecting in the background, so a request only needs to wait long enough to pick up a
    /// connection that has just come back. This keeps 503s quick during an outage.
    static let outageDeadline: Duration = .milliseconds(500)

    /// The retry loop and deadline shared by every operation.
    private func withRetries<T: Sendable>(_ attempt: @escaping @Sendable () async throws -> T) async throws -> T {
        guard !closed.value else { throw StorageError.unavailable("postgres storage is closed") }
        let deadline = outage.value ? min(operationTimeout, Self.outageDeadline) : operationTimeout
        do {
            let value = try await attemptWithRetries(deadline, attempt)
            outage.clear()
            return value
        } catch let error as StorageError where error.isUnavailable {
            outage.mark()
            throw error
        } catch {
            outage.clear() // notFound, alreadyExists, an updater's own error: the server answered
            throw error
        }
    }

    private func attemptWithRetries<T: Sendable>(_ deadline: Duration, _ attempt: @escaping @Sendable () async throws -> T) async throws -> T {
        try await Self.withDeadline(deadline) {
            var backoff = 0.001
            for attemptNumber in 1...Self.maxAttempts {
                do {
                    return try await attempt()
                } catch let error as PostgresRetryableFailure {
                    guard attemptNumber < Self.maxAttempts else {
                        self.logger.warning("postgres transaction kept conflicting", metadata: ["sqlstate": "\(error.sqlState)"])
                        throw StorageError.conflict
                    }
                    self.retries.increment()
                    // Full jitter, so racing replicas do not retry in lockstep.
                    try await Task.sleep(nanoseconds: UInt64(Double.random(in: 0...backoff) * 1e9))
                    backoff = min(backoff * 2, 0.064)
                } catch is CancellationError {
                    throw StorageError.unavailable("postgres: operation cancelled")
                } catch let error as StorageError {
                    throw error
                } catch let error as PSQLError {
                    throw Self.storageError(error)
                } catch let error where Self.isDriverError(error) {
                    throw StorageError.unavailable("postgres: \(String(reflecting: type(of: error))): \(error)")
                }
            }
            throw StorageError.conflict
        }
    }

    /// Races `body` against `timeout`: the caller has its answer, or `unavailable`, by the
    /// deadline. On timeout `body` is cancelled (which abandons a wait for a pooled connection at
    /// once) and left to finish on its own: a query on a connection whose server stopped
    /// answering ignores cancellation until TCP gives up, minutes later, and a task group would
    /// wait for it. Cancelling the caller cancels `body`.
    static func withDeadline<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let race = DeadlineRace<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                race.start(continuation,
                           work: Task { race.finish(with: await Result(awaiting: body)) },
                           timer: Task {
                               try? await Task.sleep(for: timeout)
                               if !Task.isCancelled {
                                   race.finish(with: .failure(StorageError.unavailable("postgres: no answer within \(timeout)")))
                               }
                           })
            }
        } onCancel: {
            race.finish(with: .failure(CancellationError()))
        }
    }

    /// Runs one statement and collects its rows. SQL text is built only from constant names;
    /// values are always binds, and never appear in errors.
    @discardableResult
    func run(_ sql: String, _ binds: [PostgresBindValue] = [], on connection: PostgresConnection) async throws -> [PostgresRow] {
        var bindings = PostgresBindings(capacity: binds.count)
        for bind in binds {
            switch bind {
            case .text(let text): bindings.append(text)
            case .integer(let value): bindings.append(value)
            }
        }
        do {
            return try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger).collect()
        } catch let error as PSQLError {
            if let state = error.serverInfo?[.sqlState], state == "40001" || state == "40P01" {
                throw PostgresRetryableFailure(sqlState: state)
            }
            throw Self.storageError(error)
        }
    }

    /// Maps driver errors onto `StorageError`: class 23 (integrity) is a taken key, anything else
    /// means the database cannot serve us right now. Bound values never appear in messages.
    static func storageError(_ error: PSQLError) -> StorageError {
        if let state = error.serverInfo?[.sqlState] {
            let message = error.serverInfo?[.message] ?? ""
            if state == "23505" { return .alreadyExists }
            if state.hasPrefix("XX") || state == "22P02" { return .corrupt("postgres \(state): \(message)") }
            return .unavailable("postgres \(state): \(message)")
        }
        return .unavailable("postgres: \(error.code)")
    }

    /// Connection-level failures from NIO or the pool (refused, reset, pool shut down, TLS).
    static func isDriverError(_ error: any Error) -> Bool {
        let module = String(reflecting: type(of: error))
        return module.hasPrefix("NIO") || module.hasPrefix("PostgresNIO") || module.hasPrefix("_ConnectionPoolModule")
            || module.hasPrefix("ConnectionPoolModule") || error is ChannelError || error is IOError
    }
}

/// The state of one `PostgresStorage.withDeadline` call: the first of the answer, the deadline
/// or a cancellation resumes the caller; the other tasks are cancelled.
private final class DeadlineRace<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var tasks: [Task<Void, Never>] = []
        /// An outcome that came before `start` (the work or a cancellation racing the set-up).
        var early: Result<T, any Error>?
        var done = false
    }
    private let state = Mutex(State())

    func start(_ continuation: CheckedContinuation<T, any Error>, work: Task<Void, Never>, timer: Task<Void, Never>) {
        let early = state.withLock { state -> Result<T, any Error>? in
            guard let early = state.early else {
                state.continuation = continuation
                state.tasks = [work, timer]
                return nil
            }
            state.done = true
            return early
        }
        if let early {
            work.cancel()
            timer.cancel()
            continuation.resume(with: early)
        }
    }

    func finish(with result: Result<T, any Error>) {
        let taken = state.withLock { state -> (CheckedContinuation<T, any Error>, [Task<Void, Never>])? in
            guard !state.done else { return nil }
            guard let continuation = state.continuation else {
                if state.early == nil { state.early = result }
                return nil
            }
            state.done = true
            state.continuation = nil
            defer { state.tasks = [] }
            return (continuation, state.tasks)
        }
        guard let (continuation, tasks) = taken else { return }
        for task in tasks { task.cancel() }
        continuation.resume(with: result)
    }
}

private extension Result where Failure == any Error {
    init(awaiting body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
