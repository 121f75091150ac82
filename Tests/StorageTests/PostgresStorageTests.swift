import FedgateCore
import Foundation
import StorageConformance
import Testing
@testable import Storage

/// `PostgresStorage` against a real PostgreSQL 15 (scripts/start-postgres.sh), password auth on
/// loopback. Each conformance case gets its own empty database.
@Suite("PostgresStorage")
struct PostgresStorageTests {
    @Test("conformance on a fresh database", arguments: StorageConformance.all)
    func conformance(_ c: ConformanceCase) async throws {
        let server = try await PostgresTestServer.shared
        try await c.run { try await server.freshStore() }
    }

    @Test("migrations run once: replicas opening one new database together, then reopening, keep version and data")
    func migrations() async throws {
        let server = try await PostgresTestServer.shared
        let database = try await server.createDatabase()
        let options = server.options(database: database)
        let stores = try await withThrowingTaskGroup(of: PostgresStorage.self) { group in
            for _ in 0..<3 { group.addTask { try await PostgresStorage.open(options, logger: testLogger) } }
            return try await group.reduce(into: [PostgresStorage]()) { $0.append($1) }
        }
        for store in stores { #expect(try await store.schemaVersion() == PostgresStorage.latestSchemaVersion) }
        let client = Client(id: "kept", secret: "s", redirectURIs: ["https://app.example/cb"], name: "Kept")
        try await stores[0].createClient(client)
        for store in stores { try await store.close() }

        let again = try await PostgresStorage.open(options, logger: testLogger)
        #expect(try await again.schemaVersion() == PostgresStorage.latestSchemaVersion)
        #expect(try await again.getClient(id: "kept") == client)
        try await again.close()
    }

    /// Two stores (replicas) on one new database.
    static func twoReplicas() async throws -> (PostgresStorage, PostgresStorage) {
        let server = try await PostgresTestServer.shared
        let options = server.options(database: try await server.createDatabase())
        let store = try await PostgresStorage.open(options, logger: testLogger)
        return (store, try await PostgresStorage.open(options, logger: testLogger))
    }

    @Test("concurrent grants read token and user in batches and rotate in batched transactions; every write lands once")
    func batchedGrants() async throws {
        let (store, other) = try await Self.twoReplicas()
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let count = 120
        for index in 0..<count {
            try await store.createPassword(Password(email: "user\(index)@example.com", hash: "h", username: "u\(index)", userID: "u\(index)"))
            try await store.createRefreshToken(RefreshToken(id: "t\(index)", token: "s0", createdAt: start, lastUsed: start,
                                                            clientID: "c", connectorID: index.isMultiple(of: 7) ? "ldap" : "local",
                                                            claims: Claims(userID: "u\(index)", username: "u", email: "User\(index)@example.com")))
        }
        // A user stored under the Swift-lower-cased key that SQL's lower() may not produce: the
        // combined read leaves it to getPassword, or finds exactly that row.
        try await store.createPassword(Password(email: "ülla@example.com", hash: "h", username: "ulla", userID: "ulla"))
        try await store.createRefreshToken(RefreshToken(id: "t-ulla", token: "s", createdAt: start, lastUsed: start, clientID: "c",
                                                        connectorID: "local", claims: Claims(userID: "ulla", username: "ulla", email: "Ülla@example.com")))
        let ulla = try await store.getRefreshTokenWithUser(id: "t-ulla", passwordConnectorID: "local")
        let ullaStored = try await store.getPassword(email: "ülla@example.com")
        #expect(ulla.user == nil || ulla.user == ullaStored)
        await #expect(throws: StorageError.self) { try await store.getRefreshTokenWithUser(id: "missing", passwordConnectorID: "local") }
        try await store.deleteRefreshToken(id: "t-ulla")
        // A body that is not JSON fails its own read, not its batch's.
        _ = try await store.withConnection {
            try await store.run("INSERT INTO refresh_token (id, created_at_us, last_used_us, data) VALUES ('t-bad', 0, 0, 'not json')", on: $0)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for round in 0..<20 {
                group.addTask { () async throws -> Void in
                    if round.isMultiple(of: 2) {
                        await #expect(throws: StorageError.self) { try await store.getRefreshTokenWithUser(id: "t-bad", passwordConnectorID: "local") }
                    } else {
                        // Batched with the bad one, the token is read alone and its user left to getPassword.
                        let read = try await store.getRefreshTokenWithUser(id: "t1", passwordConnectorID: "local")
                        #expect(read.token.id == "t1")
                        #expect(read.user == nil || read.user?.userID == "u1")
                    }
                }
            }
            try await group.waitForAll()
        }
        try await store.deleteRefreshToken(id: "t-bad")

        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<count {
                group.addTask {
                    for round in 1...3 {
                        let read = try await store.getRefreshTokenWithUser(id: "t\(index)", passwordConnectorID: "local")
                        #expect(read.token.token == "s\(round - 1)")
                        #expect(read.user?.userID == (index.isMultiple(of: 7) ? nil : "u\(index)"))
                        try await store.updateRefreshToken(id: "t\(index)") { token in
                            guard token.token == "s\(round - 1)" else { throw StorageError.conflict }
                            token.token = "s\(round)"
                            token.lastUsed = start.addingTimeInterval(Double(round))
                        }
                    }
                }
                if index.isMultiple(of: 10) {
                    group.addTask { try await other.updateRefreshToken(id: "t\(index)") { $0.scopes.append("replica") } }
                }
            }
            try await group.waitForAll()
        }
        for index in 0..<count {
            let token = try await other.getRefreshToken(id: "t\(index)")
            #expect(token.token == "s3")
            #expect(token.lastUsed == start.addingTimeInterval(3))
            #expect(token.scopes == (index.isMultiple(of: 10) ? ["replica"] : []))
        }
        // The index column followed the body: nobody has been idle for 5 s at start + 7 s.
        let idle = try await store.garbageCollect(now: start.addingTimeInterval(7), refreshPolicy: RefreshExpiryPolicy(validIfNotUsedFor: 5))
        #expect(idle.refreshTokens == 0)
        #expect(store.tokenUserReads.statistics.largestBatch > 1)
        #expect(store.writeBatches.statistics.largestBatch > 1)
        #expect(store.writeBatches.statistics.batches < store.writeBatches.statistics.requests)
        try await store.close()
        try await other.close()
    }

    @Test("three replicas updating one refresh token 150 times lose no update (with and without a read first)",
          arguments: [false, true])
    func threeReplicasParallelUpdates(readFirst: Bool) async throws {
        let server = try await PostgresTestServer.shared
        let options = server.options(database: try await server.createDatabase())
        var stores: [PostgresStorage] = []
        for _ in 0..<3 { stores.append(try await PostgresStorage.open(options, logger: testLogger)) }
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        try await stores[0].createRefreshToken(RefreshToken(id: "shared", token: "t", createdAt: now, lastUsed: now,
                                                            clientID: "c", connectorID: "local",
                                                            claims: Claims(userID: "u", username: "u")))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<150 {
                let store = stores[index % 3]
                group.addTask {
                    // A read first leaves a remembered row, usually stale by the time of the update.
                    if readFirst { _ = try await store.getRefreshToken(id: "shared") }
                    try await store.updateRefreshToken(id: "shared") { $0.scopes.append("s\(index)") }
                }
            }
            try await group.waitForAll()
        }
        let scopes = try await stores[1].getRefreshToken(id: "shared").scopes
        #expect(scopes.count == 150)
        #expect(Set(scopes).count == 150)
        for store in stores { try await store.close() }
    }

    @Test("an update after a get swaps the row the get read; a row another replica changed since is never overwritten")
    func rememberedReads() async throws {
        let (store, other) = try await Self.twoReplicas()
        try await checkRememberedReads(store, other, remembered: { store.recentReads.count })
        try await store.close()
        try await other.close()
    }

    @Test("garbage collection removes 100,000 expired rows in pages")
    func largeGarbageCollection() async throws {
        let server = try await PostgresTestServer.shared
        let store = try await server.freshStore()
        // Bodies are never decoded by the collector, so bulk rows can be inserted by SQL directly.
        try await store.withConnection { connection in
            try await store.run("""
                INSERT INTO auth_request (id, expiry_us, data) \
                SELECT 'ar-' || g, 1000, '{}' FROM generate_series(1, 100000) AS g
                """, on: connection)
            try await store.run("""
                INSERT INTO refresh_token (id, created_at_us, last_used_us, data) \
                SELECT 'rt-' || g, 1000, 1000, '{}' FROM generate_series(1, 20000) AS g
                """, on: connection)
        }
        try await store.createAuthRequest(AuthRequest(id: "live", clientID: "c", redirectURI: "https://app.example/cb",
                                                      expiry: Date().addingTimeInterval(600)))
        let started = ContinuousClock.now
        let result = try await store.garbageCollect(now: Date(), refreshPolicy: RefreshExpiryPolicy(validIfNotUsedFor: 3600))
        let elapsed = ContinuousClock.now - started
        #expect(result.authRequests == 100_000)
        #expect(result.refreshTokens == 20_000)
        _ = try await store.getAuthRequest(id: "live")
        #expect(try await store.garbageCollect(now: Date(), refreshPolicy: RefreshExpiryPolicy(validIfNotUsedFor: 3600)).total == 0)
        #expect(elapsed < .seconds(60), "collection took \(elapsed)")
        try await store.close()
    }

    @Test("while the server is down calls fail as unavailable within the timeout; they work again once it is back")
    func outageAndRecovery() async throws {
        let server = try await PostgresTestServer.start()
        do {
            // A just-started server on a loaded machine (the whole suite runs in parallel) may take
            // longer than the 2 s this test gives a call; the outage is what is timed, not the
            // first connection, so opening and the first write are retried.
            var opened: PostgresStorage?
            for attempt in 1...10 where opened == nil {
                do {
                    opened = try await PostgresStorage.open(server.options(connectionTimeout: 2), logger: testLogger)
                } catch where attempt < 10 {
                    try await Task.sleep(for: .milliseconds(500))
                }
            }
            let store = try #require(opened)
            var created = false
            for attempt in 1...10 where !created {
                do {
                    try await store.createClient(Client(id: "before"))
                    created = true
                } catch let error as StorageError where error == .alreadyExists {
                    created = true
                } catch where attempt < 10 {
                    try await Task.sleep(for: .milliseconds(500))
                }
            }
            try await server.pause()
            let started = ContinuousClock.now
            await #expect(throws: StorageError.unavailable("down")) { _ = try await store.getClient(id: "before") }
            await #expect(throws: StorageError.unavailable("down")) { try await store.healthCheck() }
            #expect(ContinuousClock.now - started < .seconds(8))
            try await server.resume()
            var recovered = false
            for _ in 0..<100 where !recovered {
                recovered = (try? await store.getClient(id: "before")) != nil
                if !recovered { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(recovered, "the pool reconnected by itself")
            // The first write after a resume may still meet a connection the pool is replacing.
            var wrote = false
            for _ in 0..<20 where !wrote {
                wrote = (try? await store.createClient(Client(id: "after"))) != nil
                if !wrote { try await Task.sleep(for: .milliseconds(250)) }
            }
            #expect(wrote, "writes work again once the server is back")
            #expect(try await store.getClient(id: "after") == Client(id: "after"))
            try await store.close()
        } catch {
            try? await server.stop()
            throw error
        }
        try await server.stop()
    }

    @Test("a wrong password is reported as unavailable, naming no secret")
    func wrongPassword() async throws {
        let server = try await PostgresTestServer.shared
        var options = server.options()
        options.password = "definitely-wrong-\(UUID().uuidString)"
        options.connectionTimeout = 3
        do {
            _ = try await PostgresStorage.open(options, logger: testLogger)
            Issue.record("opened with a wrong password")
        } catch let error as StorageError {
            #expect(error.isUnavailable)
            #expect(!error.reason.contains(options.password))
            #expect(!error.reason.contains(server.password))
        }
    }

    @Test("Dex's host forms: host, host:port, [v6]:port and a Unix socket directory")
    func hostForms() {
        #expect(PostgresOptions(host: "db.example", port: 6432).endpoint == .tcp(host: "db.example", port: 6432))
        #expect(PostgresOptions(host: "db.example:7000", port: 6432).endpoint == .tcp(host: "db.example", port: 7000))
        #expect(PostgresOptions(host: "[::1]:7001").endpoint == .tcp(host: "::1", port: 7001))
        #expect(PostgresOptions(host: "/var/run/postgresql", port: 5433).endpoint
                == .unixSocket(path: "/var/run/postgresql/.s.PGSQL.5433"))
        #expect(PostgresOptions().sslMode == .verifyFull)
        let secret = PostgresOptions(host: "h", database: "d", user: "u", password: "hunter2")
        #expect(!secret.redactedDescription.contains("hunter2"))
    }

    @Test("the keyed update lock lets different keys run together and releases every key")
    func keyedLock() async throws {
        let lock = KeyedUpdateLock()
        let order = LockedBox<[String]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<50 {
                group.addTask {
                    try await lock.withLock("k\(index % 5)") { order.withValue { $0.append("k\(index % 5)") } }
                }
            }
            try await group.waitForAll()
        }
        #expect(order.withValue { $0.count } == 50)
        #expect(await lock.heldKeys == 0)
    }
}

/// The two forced-race tests block their updater's thread until the other replica has committed
/// (an updater is synchronous). That thread belongs to Swift's cooperative pool, which has one
/// thread per core: on a 2-core machine, both tests blocking at once would leave no thread for
/// the other replica and stall the whole test process. Serialised, at most one thread waits.
extension PostgresStorageTests {
    @Suite("PostgresStorage: forced serialization failures", .serialized)
    struct ForcedRaces {
        @Test("a serialization failure (SQLSTATE 40001) between two replicas updating one row is retried, and both writes land")
        func lostRaceIsRetried() async throws {
            let server = try await PostgresTestServer.shared
            let options = server.options(database: try await server.createDatabase())
            let a = try await PostgresStorage.open(options, logger: testLogger)
            let b = try await PostgresStorage.open(options, logger: testLogger)
            try await a.createClient(Client(id: "raced"))

            // A reads, then waits inside its updater until B has committed its own update of the
            // same row; A's UPDATE must then fail with 40001 and A must retry with B's write visible.
            let runs = LockedCounter()
            let other = TaskBox()
            try await a.updateClient(id: "raced") { client in
                runs.increment()
                client.redirectURIs.append("from-a")
                if runs.value == 1 {
                    other.start { try await b.updateClient(id: "raced") { $0.redirectURIs.append("from-b") } }
                    other.waitUntilFinished(timeout: 10)
                }
            }
            try await other.result()
            #expect(runs.value == 2, "A's updater ran again after the conflict")
            #expect(a.retriedTransactions >= 1)
            #expect(Set(try await a.getClient(id: "raced").redirectURIs) == ["from-a", "from-b"])
            #expect(try await a.getClient(id: "raced").redirectURIs.count == 2)
            try await a.close()
            try await b.close()
        }

        @Test("a serialization failure (SQLSTATE 40001) in an offline-session transaction (session and reference rows) is retried")
        func serializationFailureIsRetried() async throws {
            let server = try await PostgresTestServer.shared
            let options = server.options(database: try await server.createDatabase())
            let a = try await PostgresStorage.open(options, logger: testLogger)
            let b = try await PostgresStorage.open(options, logger: testLogger)
            try await a.createOfflineSession(OfflineSession(userID: "u", connectorID: "c"))
            let ref: @Sendable (String) -> RefreshTokenRef = { RefreshTokenRef(id: $0, clientID: $0, createdAt: Date(), lastUsed: Date()) }

            // An offline session and its reference rows change in one SERIALIZABLE transaction. A reads
            // inside it, then waits until B has committed its own update of the same session: A's
            // UPDATE must fail with 40001, and the whole transaction (updater included) run again.
            let runs = LockedCounter()
            let other = TaskBox()
            try await a.updateOfflineSession(userID: "u", connectorID: "c") { session in
                runs.increment()
                session.refresh["from-a"] = ref("from-a")
                if runs.value == 1 {
                    other.start { try await b.updateOfflineSession(userID: "u", connectorID: "c") { $0.refresh["from-b"] = ref("from-b") } }
                    other.waitUntilFinished(timeout: 10)
                }
            }
            try await other.result()
            #expect(runs.value == 2, "A's updater ran again after the serialization failure")
            #expect(a.retriedTransactions >= 1)
            #expect(Set(try await a.getOfflineSession(userID: "u", connectorID: "c").refresh.keys) == ["from-a", "from-b"])
            try await a.close()
            try await b.close()
        }
    }
}

/// A task started from inside a synchronous updater, which the updater can wait for.
final class TaskBox: @unchecked Sendable {
    private let lock = NSCondition()
    private var task: Task<Void, any Error>?
    private var finished = false

    func start(_ body: @escaping @Sendable () async throws -> Void) {
        lock.withLock {
            task = Task.detached {
                defer { self.lock.withLock { self.finished = true; self.lock.broadcast() } }
                try await body()
            }
        }
    }

    /// Blocks the calling thread (a test's updater) until the task ends or `timeout` passes.
    func waitUntilFinished(timeout: TimeInterval) {
        let deadline = Date().addingTimeInterval(timeout)
        lock.withLock {
            while !finished, lock.wait(until: deadline) {}
        }
    }

    func result() async throws {
        guard let task = lock.withLock({ task }) else { return }
        try await task.value
    }
}

/// A value shared with concurrently running tasks.
final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withValue<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
