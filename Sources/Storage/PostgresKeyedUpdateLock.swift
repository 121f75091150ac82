/// Serialises read-modify-write updates of one object *within this process*; updates of
/// different objects never wait for each other. Used by `PostgresStorage` and `EtcdStorage`.
///
/// Both backends are correct without it: Postgres runs every update in a SERIALIZABLE
/// transaction and etcd compares `mod_revision`, so a lost race is detected and retried. But a
/// burst of N updates of one row from one replica (a client retrying a refresh, the 100 parallel
/// updates of the conformance suite) would then make N-1 of them fail and retry each round, and a
/// bounded retry budget could run out. Queuing them here first leaves only cross-replica races to
/// the database's conflict detection, so the retry bound is a bound on the number of replicas
/// racing, not on local concurrency.
///
/// The gateway's login limiter uses it too, to take one password attempt per username at a time.
///
/// Waiters are resumed first-in, first-out; no thread is blocked. Not reentrant.
public actor KeyedUpdateLock {
    private var queues: [String: [CheckedContinuation<Void, Never>]] = [:]

    public init() {}

    private func acquire(_ key: String) async {
        guard queues[key] != nil else {
            queues[key] = []
            return
        }
        await withCheckedContinuation { queues[key, default: []].append($0) }
    }

    private func release(_ key: String) {
        guard var waiters = queues[key], !waiters.isEmpty else {
            queues[key] = nil
            return
        }
        let next = waiters.removeFirst()
        queues[key] = waiters
        next.resume()
    }

    /// The number of keys currently held (for tests: it returns to zero when all updates end).
    public var heldKeys: Int { queues.count }

    /// Runs `body` while holding `key`; the key is released however `body` ends.
    public nonisolated func withLock<T: Sendable>(_ key: String, _ body: () async throws -> T) async throws -> T {
        await acquire(key)
        do {
            let value = try await body()
            await release(key)
            return value
        } catch {
            await release(key)
            throw error
        }
    }
}
