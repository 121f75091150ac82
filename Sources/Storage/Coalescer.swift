import NIOPosix
import Synchronization

/// Runs concurrent requests of one kind together, as one batch per round trip (group commit).
///
/// A request that finds no batch in flight leads one at once: nobody waits for a timer. On an
/// event loop it first lets the jobs already queued there run (`letReadyTasksRun`, one round of
/// the loop), so requests of the same burst join it; on an idle server that round is empty and
/// the request runs alone. While a batch is in flight, new requests queue; when it ends, the
/// first queued request leads the next batch and takes every queued request that `fits` (up to
/// `limit`) along. So N callers arriving together cost one round trip
/// (one statement preparation, one thread-pool hand-off, one commit) instead of N.
///
/// The leader runs the batch (in a task of its own when others ride along, so cancelling the
/// leader fails none of them); the others suspend on a continuation and are
/// resumed with their own answer, or with the lead of the next batch. Requests that do not fit a
/// batch (`fits` says no) keep their place in the queue for a later one.
final class Coalescer<Request: Sendable, Response: Sendable>: Sendable {
    private enum Outcome: Sendable {
        case finished(Result<Response, any Error>)
        case lead
    }

    private struct Waiter: Sendable {
        let request: Request
        let continuation: CheckedContinuation<Outcome, Never>
    }

    private struct State: Sendable {
        var busy = false
        var queue: [Waiter] = []
        var statistics = Statistics()
    }

    /// What the coalescer has run so far.
    struct Statistics: Sendable, Equatable {
        var batches = 0
        var requests = 0
        var largestBatch = 0
    }

    /// The most requests one batch takes.
    let limit: Int
    private let state = Mutex(State())

    init(limit: Int) {
        precondition(limit >= 1)
        self.limit = limit
    }

    /// Requests waiting for a batch.
    var queued: Int { state.withLock { $0.queue.count } }

    var statistics: Statistics { state.withLock { $0.statistics } }

    /// Runs `request`, alone or in a batch with concurrent ones.
    ///
    /// - Parameters:
    ///   - fits: whether a queued request may join a batch that already holds the given requests
    ///     (for example: not two writes of the same row in one statement).
    ///   - run: runs one batch (never empty, the leader's request first) and returns one response
    ///     per request, in order. Thrown errors are every request's answer.
    func submit(
        _ request: Request,
        fits: (_ batch: [Request], _ candidate: Request) -> Bool,
        run: @escaping @Sendable ([Request]) async throws -> [Response]
    ) async throws -> Response {
        let leadsNow = state.withLock { state -> Bool in
            if state.busy { return false }
            state.busy = true
            return true
        }
        if leadsNow {
            await Self.letReadyTasksRun()
        } else {
            let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
                let leads = state.withLock { state -> Bool in
                    if !state.busy {
                        state.busy = true
                        return true
                    }
                    state.queue.append(Waiter(request: request, continuation: continuation))
                    return false
                }
                if leads { continuation.resume(returning: .lead) }
            }
            if case .finished(let result) = outcome { return try result.get() }
        }

        // Lead one batch: this request first, then the queued ones that fit, in arrival order.
        let followers = state.withLock { state -> [Waiter] in
            var batch = [request], taken: [Waiter] = [], kept: [Waiter] = []
            for waiter in state.queue {
                if batch.count < limit, fits(batch, waiter.request) {
                    batch.append(waiter.request)
                    taken.append(waiter)
                } else {
                    kept.append(waiter)
                }
            }
            state.queue = kept
            state.statistics.batches += 1
            state.statistics.requests += batch.count
            state.statistics.largestBatch = max(state.statistics.largestBatch, batch.count)
            return taken
        }
        var batch = [request]
        batch.reserveCapacity(followers.count + 1)
        for follower in followers { batch.append(follower.request) }

        let result: Result<[Response], any Error>
        do {
            // Followers' requests must not fail because the leader's task was cancelled (a
            // shutdown, a caller that gave up): with any on board, the batch runs in a task of
            // its own, which the leader's cancellation does not reach.
            let responses = followers.isEmpty ? try await run(batch) : try await Task { try await run(batch) }.value
            if responses.count == batch.count {
                result = .success(responses)
            } else {
                result = .failure(StorageError.corrupt("a batch of \(batch.count) requests returned \(responses.count) answers"))
            }
        } catch {
            result = .failure(error)
        }

        for (index, follower) in followers.enumerated() {
            follower.continuation.resume(returning: .finished(result.map { $0[index + 1] }))
        }
        // Hand the lead to the longest waiter, or go idle.
        let next = state.withLock { state -> Waiter? in
            guard !state.queue.isEmpty else {
                state.busy = false
                return nil
            }
            return state.queue.removeFirst()
        }
        next?.continuation.resume(returning: .lead)
        return try result.get()[0]
    }
}

extension Coalescer {
    /// On an event loop: suspends until the loop has run every job that was ready before this
    /// call (this task resumes behind them), so that the requests those jobs are about to make
    /// queue up and join the batch this one leads. Elsewhere it returns at once.
    ///
    /// Tasks run jobs on the event loops (`EventLoopExecutor` in the `fedgate` target), each job
    /// until its task suspends. Without this, the first request of a burst would reach storage
    /// alone and, on a single core, the storage thread would run its batch of one before the
    /// others even got here.
    static func letReadyTasksRun() async {
        guard let loop = MultiThreadedEventLoopGroup.currentEventLoop else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            loop.execute { continuation.resume() }
        }
    }
}

/// A compare-and-swap write that batches as one `UPDATE … FROM (VALUES …)` row (SQLite and
/// PostgreSQL): the row's key, the values it writes, and the body it expects.
protocol BatchedCompareAndSwap: Sendable {
    associatedtype Bind
    var key: String { get }
    var values: [Bind] { get }
    var expected: String { get }
}

extension BatchedCompareAndSwap {
    /// The statement's binds, row after row: key, values, expected body.
    static func binds(_ batch: [Self], text: (String) -> Bind) -> [Bind] {
        var binds: [Bind] = []
        binds.reserveCapacity(batch.count * ((batch.first?.values.count ?? 0) + 2))
        for write in batch {
            binds.append(text(write.key))
            binds.append(contentsOf: write.values)
            binds.append(text(write.expected))
        }
        return binds
    }
}
