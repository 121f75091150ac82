import FedgateCore
import Foundation
import StorageConformance
import Testing
@testable import Storage

/// `EtcdStorage` against a real etcd 3.4 (scripts/start-etcd.sh): the whole conformance suite,
/// racing replicas, failover across members, TLS with client certificates, etcd auth, an
/// outage, and paged garbage collection. Dex's data format is in `EtcdDexFormatTests`.
@Suite("EtcdStorage")
struct EtcdStorageTests {
    @Test("conformance in a fresh namespace", arguments: StorageConformance.all)
    func conformance(_ c: ConformanceCase) async throws {
        let server = try await EtcdTestServer.shared
        try await c.run { try await server.freshStore() }
    }

    @Test("three replicas updating one refresh token 150 times lose no update (compare-and-swap retried)")
    func threeReplicasParallelUpdates() async throws {
        let server = try await EtcdTestServer.shared
        let options = server.options()
        var stores: [EtcdStorage] = []
        for _ in 0..<3 { stores.append(try await EtcdStorage.open(options, logger: testLogger)) }
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        try await stores[0].createRefreshToken(RefreshToken(id: "shared", token: "t", createdAt: now, lastUsed: now,
                                                            clientID: "c", connectorID: "local",
                                                            claims: Claims(userID: "u", username: "u")))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<150 {
                let store = stores[index % 3]
                group.addTask { try await store.updateRefreshToken(id: "shared") { $0.scopes.append("s\(index)") } }
            }
            try await group.waitForAll()
        }
        let scopes = try await stores[1].getRefreshToken(id: "shared").scopes
        #expect(scopes.count == 150)
        #expect(Set(scopes).count == 150)
        #expect(stores.map(\.retriedUpdates).reduce(0, +) > 0, "replicas raced, and the losers retried")
        for store in stores { try await store.close() }
    }

    @Test("a three-member cluster: a dead endpoint is skipped, and losing a member loses nothing")
    func failover() async throws {
        let cluster = try await EtcdTestServer.start(nodes: 3)
        do {
            var options = cluster.options()
            // The first endpoint accepts no connections at all.
            options.endpoints = ["http://127.0.0.1:1"] + cluster.endpoints
            let store = try await EtcdStorage.open(options, logger: testLogger)
            try await store.createClient(Client(id: "before"))
            try await cluster.stopMember("n0")
            for index in 0..<20 { try await store.createClient(Client(id: "after-\(index)")) }
            try await store.updateClient(id: "before") { $0.name = "updated" }
            #expect(try await store.listClients().count == 21)
            #expect(try await store.getClient(id: "before").name == "updated")
            try await store.close()
        } catch {
            try? await cluster.stop()
            throw error
        }
        try await cluster.stop()
    }

    @Test("TLS with ssl.serverName and a client certificate; without the certificate the store does not open")
    func tls() async throws {
        let server = try await EtcdTestServer.start(tls: true)
        do {
            #expect(server.endpoints.allSatisfy { $0.hasPrefix("https://127.0.0.1:") })
            let store = try await EtcdStorage.open(server.options(), logger: testLogger)
            try await store.createClient(Client(id: "over-tls"))
            #expect(try await store.getClient(id: "over-tls").id == "over-tls")
            try await store.close()

            var noCert = server.options()
            noCert.certFile = nil
            noCert.keyFile = nil
            await #expect(throws: StorageError.unavailable("no client certificate")) {
                _ = try await EtcdStorage.open(noCert, logger: testLogger)
            }
            var wrongName = server.options()
            wrongName.serverName = nil // the certificate names etcd.test, not 127.0.0.1
            await #expect(throws: StorageError.unavailable("name mismatch")) {
                _ = try await EtcdStorage.open(wrongName, logger: testLogger)
            }
        } catch {
            try? await server.stop()
            throw error
        }
        try await server.stop()
    }

    @Test("etcd auth: the right password works, a wrong one is refused without being echoed")
    func authentication() async throws {
        let password = "pw-\(UUID().uuidString)"
        let server = try await EtcdTestServer.start(user: "fedgate", password: password)
        do {
            var options = server.options()
            options.username = "fedgate"
            options.password = password
            let store = try await EtcdStorage.open(options, logger: testLogger)
            try await store.createClient(Client(id: "authenticated"))
            #expect(try await store.listClients().map(\.id) == ["authenticated"])
            try await store.close()

            options.password = "wrong-\(UUID().uuidString)"
            do {
                _ = try await EtcdStorage.open(options, logger: testLogger)
                Issue.record("opened with a wrong password")
            } catch let error as StorageError {
                #expect(error.isUnavailable)
                #expect(!error.reason.contains(options.password) && !error.reason.contains(password))
            }
        } catch {
            try? await server.stop()
            throw error
        }
        try await server.stop()
    }

    @Test("while etcd is down calls fail as unavailable quickly; the same store works again once it is back")
    func outageAndRecovery() async throws {
        let server = try await EtcdTestServer.start()
        do {
            let store = try await EtcdStorage.open(server.options(requestTimeout: 2), logger: testLogger)
            try await store.createClient(Client(id: "before"))
            try await server.pause()
            let started = ContinuousClock.now
            await #expect(throws: StorageError.unavailable("down")) { _ = try await store.getClient(id: "before") }
            await #expect(throws: StorageError.unavailable("down")) { try await store.healthCheck() }
            #expect(ContinuousClock.now - started < .seconds(8))
            try await server.resume()
            #expect(try await store.getClient(id: "before").id == "before")
            try await store.createClient(Client(id: "after"))
            try await store.close()
        } catch {
            try? await server.stop()
            throw error
        }
        try await server.stop()
    }

    @Test("garbage collection pages through 10,000 expired auth requests and 2,000 refresh tokens")
    func largeGarbageCollection() async throws {
        let store = try await EtcdTestServer.shared.freshStore()
        let past = Date(timeIntervalSince1970: 1_600_000_000)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<20 {
                group.addTask {
                    for index in stride(from: worker, to: 10_000, by: 20) {
                        try await store.createAuthRequest(AuthRequest(id: "ar-\(index)", clientID: "c",
                                                                      redirectURI: "https://app.example/cb", expiry: past))
                        if index < 2_000 {
                            try await store.createRefreshToken(RefreshToken(id: "rt-\(index)", token: "t", createdAt: past,
                                                                            lastUsed: past, clientID: "c", connectorID: "l",
                                                                            claims: Claims(userID: "u\(index % 50)", username: "u")))
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        for user in 0..<50 {
            let ids = stride(from: user, to: 2_000, by: 50).map { "rt-\($0)" }
            try await store.createOfflineSession(OfflineSession(
                userID: "u\(user)", connectorID: "l",
                refresh: Dictionary(uniqueKeysWithValues: ids.map { ($0, RefreshTokenRef(id: $0, clientID: "c", createdAt: past, lastUsed: past)) })))
        }
        try await store.createAuthRequest(AuthRequest(id: "live", clientID: "c", redirectURI: "https://app.example/cb",
                                                      expiry: Date().addingTimeInterval(600)))
        let result = try await store.garbageCollect(now: Date(), refreshPolicy: RefreshExpiryPolicy(validIfNotUsedFor: 3600))
        #expect(result.authRequests == 10_000)
        #expect(result.refreshTokens == 2_000)
        #expect(result.offlineSessions == 50)
        _ = try await store.getAuthRequest(id: "live")
        #expect(try await store.listRefreshTokens().isEmpty)
        try await store.close()
    }
}
