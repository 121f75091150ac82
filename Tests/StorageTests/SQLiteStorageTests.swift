import FedgateCore
import Foundation
@testable import Storage
import StorageConformance
import Testing

@Suite("SQLiteStorage")
struct SQLiteStorageTests {
    @Test("conformance on a file", arguments: StorageConformance.all)
    func conformanceOnFile(_ c: ConformanceCase) async throws {
        try await withTemporaryDirectory { directory in
            try await c.run { try await SQLiteStorage.open(file: freshDatabasePath(in: directory), logger: testLogger) }
        }
    }

    @Test("conformance in memory", arguments: StorageConformance.all)
    func conformanceInMemory(_ c: ConformanceCase) async throws {
        try await c.run { try await SQLiteStorage.open(file: ":memory:", logger: testLogger) }
    }

    @Test("WAL is on for a file, and the in-memory database still opens")
    func journalMode() async throws {
        try await withTemporaryDirectory { directory in
            let store = try await SQLiteStorage.open(file: freshDatabasePath(in: directory), logger: testLogger)
            #expect(try await store.journalMode() == "wal")
            try await store.close()
        }
        let memory = try await SQLiteStorage.open(file: ":memory:", logger: testLogger)
        #expect(try await memory.journalMode() == "memory")
        try await memory.close()
    }

    @Test("migrations run once: reopening a file keeps the schema version and the data")
    func reopen() async throws {
        try await withTemporaryDirectory { directory in
            let path = freshDatabasePath(in: directory)
            let client = Client(id: "kept", secret: "s", redirectURIs: ["https://app.example/cb"], name: "Kept")
            let expiry = Date(timeIntervalSince1970: 1_900_000_000.25)
            let first = try await SQLiteStorage.open(file: path, logger: testLogger)
            #expect(try await first.schemaVersion() == SQLiteStorage.latestSchemaVersion)
            try await first.createClient(client)
            try await first.createAuthRequest(AuthRequest(id: "req", clientID: "kept", redirectURI: "https://app.example/cb",
                                                          expiry: expiry))
            try await first.updateKeys { $0.nextRotation = expiry }
            try await first.close()

            for _ in 0..<2 {
                let again = try await SQLiteStorage.open(file: path, logger: testLogger)
                #expect(try await again.schemaVersion() == SQLiteStorage.latestSchemaVersion)
                #expect(try await again.getClient(id: "kept") == client)
                #expect(try await again.getAuthRequest(id: "req").expiry == expiry)
                #expect(try await again.getKeys().nextRotation == expiry)
                try await again.close()
            }
        }
    }

    @Test("two stores opening one new file at once both migrate it safely")
    func concurrentOpen() async throws {
        try await withTemporaryDirectory { directory in
            let path = freshDatabasePath(in: directory)
            async let a = SQLiteStorage.open(file: path, logger: testLogger)
            async let b = SQLiteStorage.open(file: path, logger: testLogger)
            let (first, second) = try await (a, b)
            #expect(try await first.schemaVersion() == SQLiteStorage.latestSchemaVersion)
            #expect(try await second.schemaVersion() == SQLiteStorage.latestSchemaVersion)
            try await first.close()
            try await second.close()
        }
    }

    @Test("updates through two connections to one file lose nothing (BEGIN IMMEDIATE + busy timeout)")
    func twoConnections() async throws {
        try await withTemporaryDirectory { directory in
            let path = freshDatabasePath(in: directory)
            let first = try await SQLiteStorage.open(file: path, logger: testLogger)
            let second = try await SQLiteStorage.open(file: path, logger: testLogger)
            try await first.createClient(Client(id: "shared"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<60 {
                    let store = index.isMultiple(of: 2) ? first : second
                    group.addTask { try await store.updateClient(id: "shared") { $0.redirectURIs.append("uri-\(index)") } }
                }
                try await group.waitForAll()
            }
            #expect(try await second.getClient(id: "shared").redirectURIs.count == 60)
            try await first.close()
            try await second.close()
        }
    }

    @Test("an update after a get uses the row the get read, and a row changed since is never overwritten")
    func rememberedReads() async throws {
        try await withTemporaryDirectory { directory in
            let path = freshDatabasePath(in: directory)
            let store = try await SQLiteStorage.open(file: path, logger: testLogger)
            let other = try await SQLiteStorage.open(file: path, logger: testLogger)  // another replica
            try await checkRememberedReads(store, other, remembered: { store.recentReads.count })
            try await store.close()
            try await other.close()
        }
    }

    @Test("100 parallel updates of one refresh token on a file all land (speed is measured by benchmarks, not here)")
    func parallelUpdateSpeed() async throws {
        try await withTemporaryDirectory { directory in
            let store = try await SQLiteStorage.open(file: freshDatabasePath(in: directory), logger: testLogger)
            let now = Date()
            try await store.createRefreshToken(RefreshToken(id: "fast", token: "t", createdAt: now, lastUsed: now,
                                                            clientID: "c", connectorID: "ldap",
                                                            claims: Claims(userID: "u", username: "u")))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<100 {
                    group.addTask { try await store.updateRefreshToken(id: "fast") { $0.scopes.append("s\(index)") } }
                }
                try await group.waitForAll()
            }
            let scopes = try await store.getRefreshToken(id: "fast").scopes
            #expect(scopes.count == 100)
            #expect(Set(scopes).count == 100)
            try await store.close()
        }
    }

    @Test("a closed store reports unavailable, and closing twice is harmless")
    func closed() async throws {
        let store = try await SQLiteStorage.open(file: ":memory:", logger: testLogger)
        try await store.close()
        try await store.close()
        await #expect(throws: StorageError.unavailable("closed")) { try await store.getClient(id: "x") }
        await #expect(throws: StorageError.unavailable("closed")) { try await store.healthCheck() }
    }

    @Test("a database that cannot be opened is reported as unavailable")
    func unopenable() async throws {
        await #expect(throws: StorageError.unavailable("open")) {
            _ = try await SQLiteStorage.open(file: "/nonexistent-dir-\(UUID().uuidString)/db.sqlite", logger: testLogger)
        }
    }
}
