import Foundation
import Storage

/// Many writers at once (Dex's `RunConcurrencyTests`): no update may be lost.
enum ConcurrencyCases {
    static let parallelUpdates = 100

    static let all: [ConformanceCase] = [
        ConformanceCase("RefreshTokenParallelUpdate", store: refreshTokenParallelUpdate),
        ConformanceCase("ParallelCreateSameKey", store: parallelCreateSameKey),
        ConformanceCase("ParallelMixedWork", store: parallelMixedWork),
    ]

    /// 100 concurrent updates of one refresh token, each appending a scope and bumping
    /// `lastUsed` by one second. Every increment must survive.
    static func refreshTokenParallelUpdate(_ s: any GatewayStorage) async throws {
        let start = Fixtures.now()
        var token = Fixtures.refreshToken("parallel", createdAt: start)
        token.scopes = []
        try await s.createRefreshToken(token)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<parallelUpdates {
                group.addTask {
                    try await s.updateRefreshToken(id: "parallel") { token in
                        token.scopes.append("scope-\(index)")
                        token.lastUsed.addTimeInterval(1)
                    }
                }
            }
            try await group.waitForAll()
        }
        let final = try await s.getRefreshToken(id: "parallel")
        try expectEqual(final.scopes.count, parallelUpdates, "scopes appended")
        try expectEqual(Set(final.scopes), Set((0..<parallelUpdates).map { "scope-\($0)" }), "each update once")
        try expectEqual(final.lastUsed, start.addingTimeInterval(TimeInterval(parallelUpdates)), "lastUsed increments")
    }

    /// Concurrent creates of one key: exactly one wins, the others see `alreadyExists`.
    static func parallelCreateSameKey(_ s: any GatewayStorage) async throws {
        let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<20 {
                group.addTask {
                    var client = Fixtures.client("contended")
                    client.name = "writer-\(index)"
                    do {
                        try await s.createClient(client)
                        return true
                    } catch let error as StorageError where error.isAlreadyExists {
                        return false
                    }
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        try expectEqual(outcomes.filter { $0 }.count, 1, "creates that succeeded")
        let stored = try await s.getClient(id: "contended")
        try expect(stored.name.hasPrefix("writer-"), "stored client is one writer's: \(stored.name)")
    }

    /// Creates, reads, updates and deletes of different objects interleaved.
    static func parallelMixedWork(_ s: any GatewayStorage) async throws {
        let expiry = Fixtures.now().addingTimeInterval(600)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<40 {
                group.addTask {
                    let id = "mixed-\(index)"
                    try await s.createAuthRequest(Fixtures.authRequest(id, expiry: expiry))
                    try await s.updateAuthRequest(id: id) { $0.loggedIn = false; $0.state = "updated-\(index)" }
                    let read = try await s.getAuthRequest(id: id)
                    try expectEqual(read.state, "updated-\(index)", "read own write")
                    if index % 2 == 0 { try await s.deleteAuthRequest(id: id) }
                }
            }
            try await group.waitForAll()
        }
        for index in 0..<40 {
            if index % 2 == 0 {
                try await expectError(.notFound, "deleted request \(index)") { _ = try await s.getAuthRequest(id: "mixed-\(index)") }
            } else {
                try expectEqual(try await s.getAuthRequest(id: "mixed-\(index)").state, "updated-\(index)", "request \(index)")
            }
        }
    }
}
