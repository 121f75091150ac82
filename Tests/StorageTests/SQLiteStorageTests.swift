import FedgateCore
import Foundation
import SQLiteNIO
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

    @Test("a transaction whose task is cancelled rolls back, and the connection takes the next transaction")
    func cancelledTransactionRollsBack() async throws {
        try await withTemporaryDirectory { directory in
            let store = try await SQLiteStorage.open(file: freshDatabasePath(in: directory), logger: testLogger)
            try await store.withConnection { _ = try await store.execute("CREATE TABLE cancel_probe (x INTEGER)") }
            let (started, startedSignal) = AsyncStream<Void>.makeStream()
            let task = Task {
                try await store.transaction {
                    _ = try await store.execute("INSERT INTO cancel_probe VALUES (1)")
                    startedSignal.yield()
                    try await Task.sleep(for: .seconds(30))   // cancelled here: the body throws
                }
            }
            for await _ in started { break }
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }
            // The connection is out of the transaction: a new one begins, and the insert is gone.
            let rows = try await store.transaction { try await store.execute("SELECT count(*) FROM cancel_probe") }
            #expect(rows.first?.column("count(*)")?.integer == 0)
            #expect(try await store.read("SELECT count(*) FROM cancel_probe").first?.column("count(*)")?.integer == 0)
            try await store.close()
        }
    }

    @Test("a read begun after a commit sees it, even while a long read is running on the read connection")
    func readAfterCommitDuringLongRead() async throws {
        try await withTemporaryDirectory { directory in
            let store = try await SQLiteStorage.open(file: freshDatabasePath(in: directory), logger: testLogger)
            try await store.withConnection { _ = try await store.execute("CREATE TABLE probe (x INTEGER)") }
            // A statement that reads the table (so it holds a snapshot) for a good while.
            let long = Task {
                try await store.read("""
                    WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 1500000)
                    SELECT count(*) AS n FROM c LEFT JOIN probe ON probe.x = c.n
                    """)
            }
            try await Task.sleep(for: .milliseconds(100))
            try await store.withConnection { _ = try await store.execute("INSERT INTO probe VALUES (7)") }
            // With several pool threads this statement could join the long one's snapshot.
            let seen = try await store.read("SELECT count(*) AS n FROM probe")
            #expect(seen.first?.column("n")?.integer == 1)
            _ = try await long.value
            try await store.close()
        }
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

    @Test("the database and its WAL files are readable by their owner only; a world-readable file is tightened")
    func fileModes() async throws {
        func mode(_ path: String) throws -> Int {
            (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
        }
        try await withTemporaryDirectory { directory in
            let path = freshDatabasePath(in: directory)
            let store = try await SQLiteStorage.open(file: path, logger: testLogger)
            try await store.createClient(Client(id: "c", secret: "s", redirectURIs: ["https://app.example/cb"]))
            for file in [path, path + "-wal", path + "-shm"] {
                #expect(FileManager.default.fileExists(atPath: file), "\(file)")
                #expect(try mode(file) == 0o600, "\(file)")
            }
            try await store.close()

            // A database made elsewhere with 0644 (and its WAL) is tightened when opened.
            for file in [path, path + "-wal"] where FileManager.default.fileExists(atPath: file) {
                try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
            }
            let again = try await SQLiteStorage.open(file: path, logger: testLogger)
            #expect(try await again.getClient(id: "c").secret == "s")
            #expect(try mode(path) == 0o600)
            if FileManager.default.fileExists(atPath: path + "-wal") { #expect(try mode(path + "-wal") == 0o600) }
            try await again.close()
        }
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

    @Test("concurrent grants on many tokens run as batched statements, and every write lands exactly once", arguments: [false, true])
    func batchedGrants(inMemory: Bool) async throws {
        try await withTemporaryDirectory { directory in
            let path = inMemory ? ":memory:" : freshDatabasePath(in: directory)
            let store = try await SQLiteStorage.open(file: path, logger: testLogger)
            // Another replica on the same file rewrites some rows behind the store's back.
            let other = inMemory ? nil : try await SQLiteStorage.open(file: path, logger: testLogger)
            let start = Date(timeIntervalSince1970: 1_800_000_000)
            let count = 300
            for index in 0..<count {
                try await store.createRefreshToken(RefreshToken(id: "t\(index)", token: "s0", createdAt: start, lastUsed: start,
                                                                clientID: "c", connectorID: "local",
                                                                claims: Claims(userID: "u\(index)", username: "u")))
            }
            // Every token: three grants in a row (read, rotate, as the refresh grant does), all
            // tokens at once; every fifth grant also moves `createdAt` (another set of index
            // columns, so another batch); the replica appends a scope to every tenth token.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<count {
                    group.addTask {
                        for round in 1...3 {
                            let read = try await store.getRefreshToken(id: "t\(index)")
                            #expect(read.token == "s\(round - 1)")
                            try await store.updateRefreshToken(id: "t\(index)") { token in
                                guard token.token == "s\(round - 1)" else { throw StorageError.conflict }
                                token.obsoleteToken = token.token
                                token.token = "s\(round)"
                                token.lastUsed = start.addingTimeInterval(Double(round))
                                if index.isMultiple(of: 5) { token.createdAt = start.addingTimeInterval(-Double(round)) }
                            }
                        }
                    }
                    if let other, index.isMultiple(of: 10) {
                        group.addTask { try await other.updateRefreshToken(id: "t\(index)") { $0.scopes.append("replica") } }
                    }
                }
                try await group.waitForAll()
            }
            for index in 0..<count {
                let token = try await (other ?? store).getRefreshToken(id: "t\(index)")
                #expect(token.token == "s3")
                #expect(token.obsoleteToken == "s2")
                #expect(token.lastUsed == start.addingTimeInterval(3))
                #expect(token.createdAt == (index.isMultiple(of: 5) ? start.addingTimeInterval(-3) : start))
                #expect(token.scopes == (other != nil && index.isMultiple(of: 10) ? ["replica"] : []))
            }
            // The index columns followed the bodies (garbage collection selects by them): used 4 s
            // ago, none is idle for 5 s; created 10 s ago, every fifth is past a 9.5 s lifetime.
            let now = start.addingTimeInterval(7)
            let idle = try await store.garbageCollect(now: now, refreshPolicy: RefreshExpiryPolicy(validIfNotUsedFor: 5))
            #expect(idle.refreshTokens == 0)
            let old = try await store.garbageCollect(now: now, refreshPolicy: RefreshExpiryPolicy(absoluteLifetime: 9.5))
            #expect(old.refreshTokens == count / 5)
            // Concurrency is the point: far fewer statements than requests.
            let reads = store.readBatches["refresh_token"]!.statistics, writes = store.writeBatches["refresh_token"]!.statistics
            #expect(reads.requests >= count * 3)
            #expect(writes.requests >= count * 3)
            #expect(reads.largestBatch > 1)
            #expect(writes.largestBatch > 1)
            #expect(writes.batches < writes.requests)
            #expect(reads.largestBatch <= SQLiteRowBatches.limit && writes.largestBatch <= SQLiteRowBatches.limit)
            try await store.close()
            try await other?.close()
        }
    }

    @Test("the batched statements read several rows at once and write only the rows still as read")
    func batchedStatements() async throws {
        let store = try await SQLiteStorage.open(file: ":memory:", logger: testLogger)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        for id in ["a", "b", "c"] {
            try await store.createRefreshToken(RefreshToken(id: id, token: "s", createdAt: start, lastUsed: start,
                                                            clientID: "c", connectorID: "local", claims: Claims(userID: id, username: id)))
        }
        let table = try #require(SQLiteTables.refreshToken.batches)
        // Read a, b, c and a missing row in one statement.
        let sql = table.select(count: 4)
        #expect(sql == "SELECT id AS k, data FROM refresh_token WHERE id IN (?, ?, ?, ?)")
        let rows = try await store.withConnection { try await store.execute(sql, [.text("a"), .text("zz"), .text("b"), .text("c")]) }
        #expect(Set(rows.compactMap { $0.column("k")?.string }) == ["a", "b", "c"])
        let bodies = Dictionary(uniqueKeysWithValues: rows.map { ($0.column("k")!.string!, $0.column("data")!.string!) })

        // Write a and c with the bodies as read, b with a stale expected body: only a and c change.
        let lastUsedOnly = 1 << table.indexColumns.firstIndex(of: "last_used_us")!
        let cas = table.compareAndSwap(mask: lastUsedOnly, count: 3)
        #expect(cas.hasPrefix("UPDATE refresh_token SET last_used_us = v.column2, data = v.column3 FROM (VALUES (?, ?, ?, ?), (?, ?, ?, ?), (?, ?, ?, ?)) AS v"))
        var binds: [SQLiteData] = []
        for id in ["a", "b", "c"] {
            var token = try StorageCodec.decode(RefreshToken.self, from: bodies[id]!)
            token.token = "rotated"
            token.lastUsed = start.addingTimeInterval(60)
            binds += [.text(id), .time(token.lastUsed), .text(try StorageCodec.encode(token)),
                      .text(id == "b" ? bodies[id]! + " " : bodies[id]!)]
        }
        let written = try await store.withConnection { try await store.execute(cas, binds) }
        #expect(Set(written.compactMap { $0.column("k")?.string }) == ["a", "c"])
        #expect(try await store.getRefreshToken(id: "a").token == "rotated")
        #expect(try await store.getRefreshToken(id: "b").token == "s")
        #expect(try await store.getRefreshToken(id: "c").token == "rotated")
        let lastUsed = try await store.withConnection {
            try await store.execute("SELECT id, last_used_us FROM refresh_token ORDER BY id").map { $0.column("last_used_us")!.integer! }
        }
        let moved = Int(StorageCodec.microseconds(start.addingTimeInterval(60))), kept = Int(StorageCodec.microseconds(start))
        #expect(lastUsed == [moved, kept, moved])
        try await store.close()
    }

    @Test("a token is read with its password-DB user in one statement, only when that is exactly the row getPassword reads")
    func tokenWithUser() async throws {
        try await withTemporaryDirectory { directory in
            let store = try await SQLiteStorage.open(file: freshDatabasePath(in: directory), logger: testLogger)
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            func token(_ id: String, email: String, connector: String = "local") -> RefreshToken {
                RefreshToken(id: id, token: "s", createdAt: now, lastUsed: now, clientID: "c", connectorID: connector,
                             claims: Claims(userID: "u-\(id)", username: id, email: email))
            }
            let users = [
                Password(email: "ann@example.com", hash: "h1", username: "ann", userID: "u-ann", groups: ["a"]),
                Password(email: "bob@example.com", hash: "h2", username: "bob", userID: "u-bob"),
                // Stored under the Swift-lower-cased key; SQLite's `lower` leaves "Ü" as it is.
                Password(email: "üli@example.com", hash: "h3", username: "uli", userID: "u-uli"),
            ]
            for user in users { try await store.createPassword(user) }
            try await store.createRefreshToken(token("t-ann", email: "ann@example.com"))
            try await store.createRefreshToken(token("t-bob", email: "Bob@Example.COM"))   // ASCII case folds in SQL too
            try await store.createRefreshToken(token("t-uli", email: "Üli@example.com"))
            try await store.createRefreshToken(token("t-gone", email: "gone@example.com"))
            try await store.createRefreshToken(token("t-ldap", email: "ann@example.com", connector: "ldap"))

            let ann = try await store.getRefreshTokenWithUser(id: "t-ann", passwordConnectorID: "local")
            #expect(ann.token == token("t-ann", email: "ann@example.com"))
            #expect(ann.user == (try await store.getPassword(email: "ann@example.com")))
            #expect(try await store.getRefreshTokenWithUser(id: "t-bob", passwordConnectorID: "local").user?.userID == "u-bob")
            // Not read in the statement: the caller asks getPassword, which is the reference.
            #expect(try await store.getRefreshTokenWithUser(id: "t-uli", passwordConnectorID: "local").user == nil)
            #expect(try await store.getPassword(email: "Üli@example.com".lowercased()).userID == "u-uli")
            #expect(try await store.getRefreshTokenWithUser(id: "t-gone", passwordConnectorID: "local").user == nil)
            #expect(try await store.getRefreshTokenWithUser(id: "t-ldap", passwordConnectorID: "local").user == nil)
            #expect(try await store.getRefreshTokenWithUser(id: "t-ann", passwordConnectorID: "other").user == nil)
            await #expect(throws: StorageError.self) { try await store.getRefreshTokenWithUser(id: "missing", passwordConnectorID: "local") }

            // The combined read stands in for `get` before an update: the compare-and-swap takes its row.
            _ = try await store.getRefreshTokenWithUser(id: "t-ann", passwordConnectorID: "local")
            let remembered = store.recentReads.count
            try await store.updateRefreshToken(id: "t-ann") { $0.token = "rotated" }
            #expect(store.recentReads.count == remembered - 1)
            #expect(try await store.getRefreshToken(id: "t-ann").token == "rotated")

            // Concurrent reads batch, and each gets its own pair.
            let ids = ["t-ann", "t-bob", "t-uli", "t-gone", "t-ldap", "missing"]
            let answers = try await withThrowingTaskGroup(of: (String, String?, Bool).self) { group in
                for round in 0..<40 {
                    let id = ids[round % ids.count]
                    group.addTask {
                        do {
                            let read = try await store.getRefreshTokenWithUser(id: id, passwordConnectorID: "local")
                            return (id, read.user?.userID, true)
                        } catch let error as StorageError where error.isNotFound {
                            return (id, nil, false)
                        }
                    }
                }
                return try await group.reduce(into: [(String, String?, Bool)]()) { $0.append($1) }
            }
            let expected: [String: (String?, Bool)] = [
                "t-ann": ("u-ann", true), "t-bob": ("u-bob", true), "t-uli": (nil, true),
                "t-gone": (nil, true), "t-ldap": (nil, true), "missing": (nil, false),
            ]
            #expect(answers.count == 40)
            for (id, user, found) in answers {
                #expect(user == expected[id]!.0, "\(id)")
                #expect(found == expected[id]!.1, "\(id)")
            }
            #expect(store.tokenUserReads.statistics.requests == 8 + 40)

            // A body that is not JSON fails its own read, not the statement its batch shares.
            _ = try await store.withConnection {
                try await store.execute("INSERT INTO refresh_token (id, created_at_us, last_used_us, data) VALUES ('t-bad', 0, 0, 'not json')")
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for round in 0..<20 {
                    group.addTask { () async throws -> Void in
                        if round.isMultiple(of: 2) {
                            await #expect(throws: StorageError.self) {
                                try await store.getRefreshTokenWithUser(id: "t-bad", passwordConnectorID: "local")
                            }
                        } else {
                            // Batched with the bad one, the token is read alone and its user left to getPassword.
                            let read = try await store.getRefreshTokenWithUser(id: "t-bob", passwordConnectorID: "local")
                            #expect(read.token.id == "t-bob")
                            #expect(read.user == nil || read.user?.userID == "u-bob")
                        }
                    }
                }
                try await group.waitForAll()
            }
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
