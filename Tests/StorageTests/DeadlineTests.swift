import Foundation
@testable import Storage
import Testing

/// `PostgresStorage.withDeadline`: the caller's answer comes by the deadline even when the work
/// ignores cancellation (a query on a connection whose server went silent).
@Suite("Deadlines")
struct DeadlineTests {
    /// Finishes after `delay` whatever happens; cancellation does not shorten it.
    static func stubborn(_ delay: Duration, value: Int) async -> Int {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(delay / .milliseconds(1)))) {
                continuation.resume(returning: value)
            }
        }
    }

    @Test("work that ignores cancellation still answers unavailable at the deadline")
    func stubbornWork() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        await #expect(throws: StorageError.self) {
            _ = try await PostgresStorage.withDeadline(.milliseconds(100)) { await Self.stubborn(.seconds(120), value: 1) }
        }
        // Far below the work's two minutes (the bound is loose: a loaded CI machine may be slow
        // to run the timer, and this is no timing test).
        #expect(clock.now - start < .seconds(60))
    }

    @Test("an answer before the deadline is returned, and errors pass through")
    func answers() async throws {
        #expect(try await PostgresStorage.withDeadline(.seconds(5)) { await Self.stubborn(.milliseconds(10), value: 7) } == 7)
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            _ = try await PostgresStorage.withDeadline(.seconds(5)) { () async throws -> Int in throw Refused() }
        }
        // Many at once: each gets its own answer.
        let values = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<50 { group.addTask { try await PostgresStorage.withDeadline(.seconds(5)) { i } } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(values.sorted() == Array(0..<50))
    }

    @Test("cancelling the caller ends the wait")
    func callerCancelled() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        let task = Task { try await PostgresStorage.withDeadline(.seconds(600)) { await Self.stubborn(.seconds(120), value: 1) } }
        try await Task.sleep(for: .milliseconds(50))
        task.cancel()
        await #expect(throws: CancellationError.self) { _ = try await task.value }
        #expect(clock.now - start < .seconds(60))  // neither the deadline nor the work ended it
    }
}
