import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import Storage

/// A gate the first batch waits at, so a test can queue requests behind it deterministically.
private final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { continuation in
            let open = state.withLock { state -> Bool in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if open { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// Every batch a coalescer ran, in order.
private final class BatchLog: Sendable {
    private let batches = Mutex<[[Int]]>([])
    func append(_ batch: [Int]) { batches.withLock { $0.append(batch) } }
    var all: [[Int]] { batches.withLock { $0 } }
}

private func waitUntil(_ condition: () -> Bool) async throws {
    for _ in 0..<2_000 where !condition() { try await Task.sleep(nanoseconds: 1_000_000) }
    #expect(condition())
}

/// Runs a task's jobs on one event loop, as Fedgate's executor hook runs every task's (the hook
/// is process-wide, so tests use a task executor preference instead).
private final class LoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop
    init(_ loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

@Suite("Coalescer")
struct CoalescerTests {
    @Test("on an event loop, requests whose jobs are ready together form one batch, even when none has to wait")
    func burstOnOneEventLoop() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let executor = LoopTaskExecutor(group.next())
        let coalescer = Coalescer<Int, Int>(limit: 64)
        let log = BatchLog()
        // Twelve tasks created by one job of the loop: their first jobs are all queued before any
        // runs, as when one poll of the loop finds twelve requests. The batch function does not
        // suspend, so without the leader letting the others run first, each would run alone.
        let created = executor.loop.makePromise(of: [Task<Int, any Error>].self)
        executor.loop.execute {
            created.succeed((1...12).map { value in
                Task(executorPreference: executor) {
                    try await coalescer.submit(value, fits: { _, _ in true }, run: { batch in
                        log.append(batch)
                        return batch.map { $0 * 10 }
                    })
                }
            })
        }
        var answers: [Int] = []
        for task in try await created.futureResult.get() { answers.append(try await task.value) }
        #expect(answers == (1...12).map { $0 * 10 })
        #expect(log.all == [Array(1...12)])
        #expect(coalescer.statistics == .init(batches: 1, requests: 12, largestBatch: 12))
        try await group.shutdownGracefully()
    }

    @Test("a request that finds nothing in flight runs at once, alone")
    func alone() async throws {
        let coalescer = Coalescer<Int, Int>(limit: 8)
        let log = BatchLog()
        for value in 1...3 {
            let answer = try await coalescer.submit(value, fits: { _, _ in true }, run: { batch in
                log.append(batch)
                return batch.map { $0 * 10 }
            })
            #expect(answer == value * 10)
        }
        #expect(log.all == [[1], [2], [3]])
        #expect(coalescer.statistics == .init(batches: 3, requests: 3, largestBatch: 1))
        #expect(coalescer.queued == 0)
    }

    @Test("requests queued behind a batch run together, each gets its own answer, and batches respect the limit")
    func batches() async throws {
        let coalescer = Coalescer<Int, Int>(limit: 4)
        let log = BatchLog()
        let gate = Gate()
        let answers = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            group.addTask {
                (0, try await coalescer.submit(0, fits: { _, _ in true }, run: { batch in
                    await gate.wait()
                    log.append(batch)
                    return batch.map { $0 * 10 }
                }))
            }
            try await waitUntil { coalescer.statistics.batches == 1 }
            for value in 1...9 {
                group.addTask {
                    (value, try await coalescer.submit(value, fits: { _, _ in true }, run: { batch in
                        log.append(batch)
                        return batch.map { $0 * 10 }
                    }))
                }
            }
            try await waitUntil { coalescer.queued == 9 }
            gate.open()
            var answers: [Int: Int] = [:]
            for try await (value, answer) in group { answers[value] = answer }
            return answers
        }
        #expect(answers == Dictionary(uniqueKeysWithValues: (0...9).map { ($0, $0 * 10) }))
        let batches = log.all
        #expect(batches.first == [0])
        #expect(batches.allSatisfy { $0.count <= 4 })
        #expect(batches.flatMap { $0 }.sorted() == Array(0...9))
        // Nine queued requests with a limit of four: three more batches, not nine.
        #expect(batches.count == 4)
        #expect(coalescer.statistics == .init(batches: 4, requests: 10, largestBatch: 4))
        #expect(coalescer.queued == 0)
    }

    @Test("a queued request that does not fit a batch keeps its place for a later one")
    func fits() async throws {
        let coalescer = Coalescer<Int, Int>(limit: 16)
        let log = BatchLog()
        let gate = Gate()
        // Odd and even values never share a batch; equal values never share one either.
        let fits: @Sendable ([Int], Int) -> Bool = { batch, candidate in
            candidate % 2 == batch[0] % 2 && !batch.contains(candidate)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                _ = try await coalescer.submit(100, fits: fits, run: { batch in
                    await gate.wait()
                    log.append(batch)
                    return batch
                })
            }
            try await waitUntil { coalescer.statistics.batches == 1 }
            for (index, value) in [1, 2, 3, 3, 4, 5].enumerated() {
                group.addTask {
                    let answer = try await coalescer.submit(value, fits: fits, run: { batch in
                        log.append(batch)
                        return batch
                    })
                    #expect(answer == value)
                }
                // One at a time: arrival order is part of what is checked.
                try await waitUntil { coalescer.queued == index + 1 }
            }
            gate.open()
            try await group.waitForAll()
        }
        let batches = log.all
        #expect(batches.first == [100])
        // Every request ran once, no batch mixes parities or repeats a value.
        #expect(batches.flatMap { $0 }.sorted() == [1, 2, 3, 3, 4, 5, 100])
        for batch in batches {
            #expect(Set(batch.map { $0 % 2 }).count == 1)
            #expect(Set(batch).count == batch.count)
        }
        // The longest waiter (1) leads next and takes the odd values it can: 1, 3, 5.
        #expect(batches.dropFirst().first == [1, 3, 5])
    }

    @Test("a failed batch fails each of its requests, and the next batch runs normally")
    func failure() async throws {
        struct Boom: Error {}
        let coalescer = Coalescer<Int, Int>(limit: 8)
        let gate = Gate()
        let results = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            group.addTask {
                let ok = (try? await coalescer.submit(0, fits: { _, _ in true }, run: { batch in
                    await gate.wait()
                    return batch
                })) != nil
                return (0, ok)
            }
            try await waitUntil { coalescer.statistics.batches == 1 }
            for value in 1...3 {
                group.addTask {
                    let ok = (try? await coalescer.submit(value, fits: { _, _ in true }, run: { batch in
                        if batch.contains(2) { throw Boom() }
                        return batch
                    })) != nil
                    return (value, ok)
                }
            }
            try await waitUntil { coalescer.queued == 3 }
            gate.open()
            var results: [Int: Bool] = [:]
            for try await (value, ok) in group { results[value] = ok }
            return results
        }
        // 0 ran alone and succeeded; 1, 2 and 3 ran as one batch, which threw for all of them.
        #expect(results == [0: true, 1: false, 2: false, 3: false])
        #expect(try await coalescer.submit(7, fits: { _, _ in true }, run: { $0 }) == 7)
        #expect(coalescer.queued == 0)
    }

    @Test("a batch that answers the wrong number of requests is an error, not a wrong answer")
    func wrongCount() async throws {
        let coalescer = Coalescer<Int, Int>(limit: 8)
        await #expect(throws: StorageError.self) {
            try await coalescer.submit(1, fits: { _, _ in true }, run: { _ in [] })
        }
        #expect(try await coalescer.submit(2, fits: { _, _ in true }, run: { $0 }) == 2)
    }

    @Test("many concurrent callers: every request answered exactly once, with its own answer")
    func stress() async throws {
        let coalescer = Coalescer<Int, Int>(limit: 16)
        let count = 2_000
        let sum = try await withThrowingTaskGroup(of: Int.self) { group in
            for value in 0..<count {
                group.addTask {
                    let answer = try await coalescer.submit(value, fits: { _, _ in true }, run: { batch in
                        await Task.yield()
                        return batch.map { $0 + 1 }
                    })
                    #expect(answer == value + 1)
                    return answer
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(sum == (1...count).reduce(0, +))
        let statistics = coalescer.statistics
        #expect(statistics.requests == count)
        #expect(statistics.largestBatch <= 16)
        #expect(coalescer.queued == 0)
    }

    @Test("cancelling the task that leads a batch fails none of the requests riding along")
    func cancelledLeader() async throws {
        let coalescer = Coalescer<Int, Int>(limit: 8)
        let gate = Gate()
        // Storage drivers give up in a cancelled task (sqlite-nio skips statements): so does this batch.
        let run: @Sendable ([Int]) async throws -> [Int] = { batch in
            try Task.checkCancellation()
            return batch.map { $0 * 10 }
        }
        let first = Task { try await coalescer.submit(0, fits: { _, _ in true }, run: { batch in
            await gate.wait()
            return try await run(batch)
        }) }
        try await waitUntil { coalescer.statistics.batches == 1 }
        // Queued first, so it leads the next batch; cancelled while it waits.
        let leader = Task { try await coalescer.submit(1, fits: { _, _ in true }, run: run) }
        try await waitUntil { coalescer.queued == 1 }
        let riders = (2...4).map { value in Task { try await coalescer.submit(value, fits: { _, _ in true }, run: run) } }
        try await waitUntil { coalescer.queued == 4 }
        leader.cancel()
        gate.open()
        #expect(try await first.value == 0)
        for (offset, rider) in riders.enumerated() {
            #expect(try await rider.value == (offset + 2) * 10)
        }
        _ = try? await leader.value
        #expect(coalescer.statistics.batches == 2)
        #expect(coalescer.queued == 0)
    }
}
