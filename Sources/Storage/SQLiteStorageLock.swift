/// A first-in, first-out asynchronous mutex guarding the one SQLite connection.
///
/// `SQLiteStorage` owns one connection, and a transaction on it is several awaited statements
/// (`BEGIN IMMEDIATE`, read, write, `COMMIT`). An actor alone would not keep two transactions
/// apart, because actor methods re-enter at every `await`; this lock is held across the whole
/// transaction instead. Waiters suspend (no thread is blocked) and are resumed in arrival order,
/// so no caller starves. The lock is handed directly to the next waiter on release.
///
/// Not reentrant: code holding the lock must not ask for it again (an updater that called back
/// into the same storage would wait for itself).
actor SQLiteTransactionLock {
    private var isLocked = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var head = 0

    init() {}

    /// Suspends until the caller owns the lock.
    func acquire() async {
        guard isLocked else {
            isLocked = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    /// Passes the lock to the longest waiter, or frees it.
    func release() {
        guard head < waiters.count else {
            isLocked = false
            waiters.removeAll(keepingCapacity: true)
            head = 0
            return
        }
        let next = waiters[head]
        head += 1
        if head > 64, head * 2 > waiters.count {
            waiters.removeFirst(head)
            head = 0
        }
        next.resume()
    }

    /// Runs `body` while holding the lock; the lock is released however `body` ends.
    nonisolated func withLock<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await acquire()
        do {
            let value = try await body()
            await release()
            return value
        } catch {
            await release()
            throw error
        }
    }
}
