import Foundation
import Logging

/// A few libldap connections, each owned by a dedicated thread, that run directory work for
/// async callers without blocking them.
///
/// Why threads of its own: libldap is a blocking C library. Calling it on Swift's cooperative
/// pool (one thread per core, two here) or on a NIO event loop would let one slow directory
/// stall every request of the server. Here an async caller enqueues a job and suspends; a pool
/// thread runs it on its connection and resumes the caller. A job that is not finished by its
/// deadline (queueing included) fails with `ConnectorError.unreachable`, and a watchdog resumes
/// the caller even if libldap itself were to hang past its timeouts.
///
/// Connections open lazily, stay open between jobs, and are reopened after a failure. When a
/// reused connection turns out to be dead (the directory restarted, an idle timeout closed it),
/// the job is retried once on a fresh connection.
final class LDAPConnectionPool: Sendable {
    private let state: PoolState
    private let requestTimeout: Duration
    private let logger: Logger

    init(endpoint: LDAPEndpoint, size: Int, label: String, logger: Logger) {
        requestTimeout = endpoint.requestTimeout
        self.logger = logger
        state = PoolState(temporaryFile: endpoint.temporaryCAFile)
        for index in 0..<max(1, size) {
            let state = self.state
            let thread = Thread {
                Self.work(state: state, session: LDAPSession(endpoint: endpoint))
            }
            thread.name = "fedgate.ldap.\(label).\(index)"
            thread.start()
        }
    }

    deinit { state.shutdown() }

    /// Runs `body` on a pool thread with a connection whose deadline is now + `requestTimeout`.
    /// `body` may block; it must not keep the session. It is run a second time, on a fresh
    /// connection, when a reused connection turns out to be dead, so it must be repeatable.
    func run<T: Sendable>(_ body: @escaping @Sendable (LDAPSession) throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + requestTimeout
        let seconds = Double(LDAPSession.milliseconds(requestTimeout)) / 1000
        let logger = self.logger
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let once = ResumeOnce(continuation)
            let job = PoolJob(deadline: deadline, run: { session in
                once.resume(Result { try Self.withRetry(session, logger: logger, body) })
            }, expire: {
                once.resume(.failure(ConnectorError.unreachable("no LDAP connection became free within \(seconds) s")))
            })
            guard state.enqueue(job) else {
                once.resume(.failure(ConnectorError.unreachable("the LDAP connector is shut down")))
                return
            }
            // The watchdog: libldap's own timeouts should always fire first.
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds + 2) {
                once.resume(.failure(ConnectorError.unreachable("the directory did not answer within \(seconds) s")))
            }
        }
    }

    private static func work(state: PoolState, session: LDAPSession) {
        // libldap writes to its sockets with write(2): a directory that closed the connection
        // would raise SIGPIPE and kill the process. Blocked on this thread, the write fails with
        // EPIPE instead and libldap reports LDAP_SERVER_DOWN (then we reconnect).
        var pipe = sigset_t()
        sigemptyset(&pipe)
        sigaddset(&pipe, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipe, nil)
        while let job = state.next() {
            guard ContinuousClock.now < job.deadline else {
                job.expire()
                continue
            }
            session.deadline = job.deadline
            job.run(session)
            session.markJobDone()
        }
        session.close()
    }

    /// Stops the threads once their current job ends and closes their connections.
    func shutdown() { state.shutdown() }
}

extension LDAPConnectionPool {
    /// Runs `body`, retrying it once on a fresh connection when it failed because a connection
    /// that had served earlier jobs was found dead. Other failures propagate.
    static func withRetry<T>(_ session: LDAPSession, logger: Logger, _ body: (LDAPSession) throws -> T) throws -> T {
        let wasReused = session.reused && session.isOpen
        do {
            return try body(session)
        } catch let failure as LDAPFailure where failure.connectionLost && wasReused && failure.code != LDAPFailure.timeout {
            logger.debug("LDAP connection was closed by the server; reconnecting", metadata: ["error": "\(failure)"])
            session.close()
            return try body(session)
        }
    }
}

/// One queued piece of work.
private struct PoolJob: Sendable {
    let deadline: ContinuousClock.Instant
    let run: @Sendable (LDAPSession) -> Void
    let expire: @Sendable () -> Void
}

/// The queue the pool threads share, guarded by a condition variable.
private final class PoolState: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [PoolJob] = []
    private var head = 0
    private var closed = false
    private let temporaryFile: String?

    init(temporaryFile: String?) { self.temporaryFile = temporaryFile }

    func enqueue(_ job: PoolJob) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !closed else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    /// The next job, blocking while there is none; nil once shut down and drained.
    func next() -> PoolJob? {
        condition.lock()
        defer { condition.unlock() }
        while head == jobs.count && !closed { condition.wait() }
        guard head < jobs.count else { return nil }
        let job = jobs[head]
        head += 1
        if head > 64 && head * 2 > jobs.count {
            jobs.removeFirst(head)
            head = 0
        }
        return job
    }

    func shutdown() {
        condition.lock()
        let wasClosed = closed
        closed = true
        condition.broadcast()
        condition.unlock()
        if !wasClosed, let temporaryFile { try? FileManager.default.removeItem(atPath: temporaryFile) }
    }
}

/// Resumes a continuation exactly once, whichever of the job, its expiry or the watchdog is first.
private final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?

    init(_ continuation: CheckedContinuation<T, any Error>) { self.continuation = continuation }

    func resume(_ result: Result<T, any Error>) {
        lock.lock()
        let pending = continuation
        continuation = nil
        lock.unlock()
        pending?.resume(with: result)
    }
}
