import Foundation
import Storage

/// Conflicting updates of one object (Dex's `RunTransactionTests`).
///
/// Dex's cases run a second update *inside* the first updater and expect exactly one of them
/// to fail. Fedgate's updaters are synchronous and a backend may serialise updates (an actor,
/// or one SQLite connection behind a lock), so a nested update awaited inside an updater would
/// deadlock. Instead the outer updater starts the inner update on a detached task, which races
/// the outer one; the outer case then awaits it. The semantics every backend must give:
///
/// - both updates succeed, applied one after the other: the final object carries both changes,
///   each exactly once (no lost write, no double application); or
/// - a backend that detects the conflict instead may fail one of them with `StorageError.conflict`,
///   and then only the other's change is present.
///
/// In either case the object is never half-written.
enum TransactionCases {
    static let all: [ConformanceCase] = [
        ConformanceCase("NestedUpdateClient", store: { s in
            try await s.createClient(Fixtures.client("tx"))
            try await racingUpdates(
                read: { try await s.getClient(id: "tx").redirectURIs.filter { $0.hasPrefix("mark:") } },
                update: { body in try await s.updateClient(id: "tx") { try body(&$0.redirectURIs) } })
        }),
        ConformanceCase("NestedUpdateAuthRequest", store: { s in
            try await s.createAuthRequest(Fixtures.authRequest("tx", expiry: Fixtures.now().addingTimeInterval(600)))
            try await racingUpdates(
                read: { try await s.getAuthRequest(id: "tx").scopes.filter { $0.hasPrefix("mark:") } },
                update: { body in try await s.updateAuthRequest(id: "tx") { try body(&$0.scopes) } })
        }),
        ConformanceCase("NestedUpdatePassword", store: { s in
            try await s.createPassword(Fixtures.password("tx@example.com"))
            try await racingUpdates(
                read: { try await s.getPassword(email: "tx@example.com").groups.filter { $0.hasPrefix("mark:") } },
                update: { body in try await s.updatePassword(email: "TX@example.com") { try body(&$0.groups) } })
        }),
        ConformanceCase("NestedUpdateKeys", store: { s in
            try await s.updateKeys { $0 = Fixtures.keys(at: Fixtures.now()) }
            try await racingUpdates(
                read: { try await s.getKeys().verificationKeys.map(\.kid).filter { $0.hasPrefix("mark:") } },
                update: { body in
                    try await s.updateKeys { keys in
                        var kids = keys.verificationKeys.map(\.kid)
                        try body(&kids)
                        for kid in kids.dropFirst(keys.verificationKeys.count) {
                            keys.verificationKeys.append(VerificationKey(kid: kid, publicJWK: "{}", expiry: keys.nextRotation))
                        }
                    }
                })
        }),
    ]

    typealias AppendUpdate = @Sendable (_ body: @escaping @Sendable (inout [String]) throws -> Void) async throws -> Void

    /// Runs an outer update that, from inside its updater, starts an inner update racing it.
    /// `update` applies `body` to a list of strings inside the object.
    static func racingUpdates(read: @escaping @Sendable () async throws -> [String], update: @escaping AppendUpdate) async throws {
        // An updater may run more than once; the inner update is started only the first time.
        let inner = LockedBox<Task<Result<Void, any Error>, Never>?>(nil)
        let outerOutcome = await outcome {
            try await update { list in
                list.append("mark:outer")
                inner.withValue { task in
                    guard task == nil else { return }
                    task = Task.detached { await outcome { try await update { $0.append("mark:inner") } } }
                }
            }
        }
        guard let innerTask = inner.withValue({ $0 }) else { throw ConformanceFailure("the outer updater never ran") }
        let innerOutcome = await innerTask.value

        let marks = try await read()
        switch (outerOutcome, innerOutcome) {
        case (.success, .success):
            try expectEqual(marks.sorted(), ["mark:inner", "mark:outer"], "both updates applied, once each")
        case (.success, .failure(let error)):
            try expectConflict(error, "inner update")
            try expectEqual(marks, ["mark:outer"], "only the outer update applied")
        case (.failure(let error), .success):
            try expectConflict(error, "outer update")
            try expectEqual(marks, ["mark:inner"], "only the inner update applied")
        case (.failure(let outer), .failure(let innerError)):
            throw ConformanceFailure("both conflicting updates failed: \(outer); \(innerError)")
        }

        // Two racing updates where one updater throws: it changes nothing, the other lands.
        let before = try await read()
        async let aborted = outcome { try await update { list in list.append("mark:aborted"); throw UpdaterAbort() } }
        async let plain = outcome { try await update { $0.append("mark:plain") } }
        let (abortedOutcome, plainOutcome) = await (aborted, plain)
        guard case .failure(let abortError) = abortedOutcome, abortError is UpdaterAbort else {
            throw ConformanceFailure("a throwing updater's update returned \(abortedOutcome), expected its own error")
        }
        if case .failure(let error) = plainOutcome { throw ConformanceFailure("the plain racing update failed: \(error)") }
        try expectEqual(try await read(), before + ["mark:plain"], "state after a racing update threw")
    }

    private static func outcome(_ body: () async throws -> Void) async -> Result<Void, any Error> {
        do {
            try await body()
            return .success(())
        } catch {
            return .failure(error)
        }
    }

    private static func expectConflict(_ error: any Error, _ what: String) throws {
        guard let error = error as? StorageError, error.isConflict else {
            throw ConformanceFailure("\(what) failed with \(error), expected success or StorageError.conflict")
        }
    }
}
