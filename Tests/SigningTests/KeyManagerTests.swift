import Foundation
import Signing
import Storage
import Testing

@Suite("KeyManager rotation")
struct KeyManagerTests {
    let period: TimeInterval = 100
    let lifetime: TimeInterval = 250

    func manager(_ storage: TestKeyStorage, _ clock: TestClock, _ algorithm: SigningAlgorithm = .es256,
                 poll: TimeInterval = 1) -> KeyManager {
        KeyManager(storage: storage, algorithm: algorithm, rotationPeriod: period, idTokenLifetime: lifetime,
                   pollInterval: poll, retirementMargin: 0, logger: quietLogger, now: clock.function)
    }

    @Test("First start creates a signing key and a pre-published next key", arguments: SigningAlgorithm.allCases)
    func firstStart(_ algorithm: SigningAlgorithm) async throws {
        let storage = TestKeyStorage(), clock = TestClock()
        let keys = manager(storage, clock, algorithm)
        #expect(throws: SigningError.noSigningKey) { try keys.snapshot.sign(sampleClaims()) }
        try await keys.start()

        let stored = try await storage.getKeys()
        let signing = try #require(stored.signingKey), next = try #require(stored.nextSigningKey)
        #expect(signing.kid != next.kid)
        #expect(signing.algorithm == algorithm.name && next.algorithm == algorithm.name)
        #expect(stored.verificationKeys.isEmpty)
        #expect(stored.nextRotation == clock.now + period)

        let snapshot = keys.snapshot
        #expect(snapshot.publishedKIDs == [signing.kid, next.kid])
        #expect(snapshot.signer?.kid == signing.kid && snapshot.nextRotation == stored.nextRotation)
        let claims = sampleClaims(now: clock.now)
        #expect(try snapshot.verify(try snapshot.sign(claims)) == claims)
        #expect(await storage.commits == 2)  // the signing key, then the pre-published next key
    }

    @Test("A second start on populated storage changes nothing")
    func restart() async throws {
        let storage = TestKeyStorage(), clock = TestClock()
        try await manager(storage, clock).start()
        let before = try await storage.getKeys()
        let second = manager(storage, clock)
        try await second.start()
        #expect(try await storage.getKeys() == before)
        #expect(second.snapshot.signer?.kid == before.signingKey?.kid)
        #expect(await storage.commits == 2)
    }

    @Test("Rotation promotes the pre-published key, keeps the old key until its tokens expire, then prunes it")
    func rotationLifecycle() async throws {
        let storage = TestKeyStorage(), clock = TestClock()
        let keys = manager(storage, clock, .rs256)
        try await keys.start()
        let first = try await storage.getKeys()
        let k1 = try #require(first.signingKey?.kid), k2 = try #require(first.nextSigningKey?.kid)
        let oldToken = try keys.snapshot.sign(sampleClaims(now: clock.now, lifetime: lifetime))

        clock.advance(by: period - 1)
        #expect(try await keys.rotateIfDue() == false)
        clock.advance(by: 1)  // t = 100: due
        #expect(try await keys.rotateIfDue() == true)

        let second = try await storage.getKeys()
        #expect(second.signingKey?.kid == k2)  // the key relying parties already had
        let k3 = try #require(second.nextSigningKey?.kid)
        #expect(![k1, k2].contains(k3))
        #expect(second.verificationKeys.map(\.kid) == [k1])
        // One poll past the token lifetime: other replicas may sign with K1 until their next poll.
        #expect(second.verificationKeys.first?.expiry == clock.now + lifetime + 1)  // t = 351
        #expect(second.nextRotation == clock.now + period)
        #expect(keys.snapshot.publishedKIDs == [k2, k3, k1])
        #expect(keys.snapshot.signer?.kid == k2)
        #expect(try keys.snapshot.verify(oldToken).iss == "http://127.0.0.1:5556/dex")

        clock.advance(by: period)  // t = 200
        #expect(try await keys.rotateIfDue() == true)
        clock.advance(by: period)  // t = 300
        #expect(try await keys.rotateIfDue() == true)
        #expect(try await storage.getKeys().verificationKeys.map(\.kid).contains(k1))
        clock.advance(by: 50)  // t = 350: K1's last token is still valid
        #expect(try await keys.rotateIfDue() == false)
        #expect(keys.snapshot.publishedKIDs.contains(k1))

        clock.advance(by: 2)  // t = 352: past K1's expiry, rotation not due until 400
        #expect(try await keys.rotateIfDue() == true)
        let pruned = try await storage.getKeys()
        #expect(!pruned.verificationKeys.map(\.kid).contains(k1))
        #expect(pruned.verificationKeys.map(\.kid).contains(k2))
        #expect(pruned.nextRotation == clock.now - 52 + period)  // pruning does not move the schedule
        #expect(!keys.snapshot.publishedKIDs.contains(k1))
        #expect(throws: SigningError.unknownKey("")) { try keys.snapshot.verifier.verifySignature(oldToken, as: TokenClaims.self) }
        #expect(await storage.signingKIDHistory.count == 4)
    }

    @Test("By default a retired key stays published a poll and a minute past the token lifetime")
    func defaultRetirementMargin() async throws {
        let storage = TestKeyStorage(), clock = TestClock()
        let keys = KeyManager(storage: storage, algorithm: .es256, rotationPeriod: period, idTokenLifetime: lifetime,
                              pollInterval: 2, logger: quietLogger, now: clock.function)
        try await keys.start()
        let k1 = try #require(keys.snapshot.signer?.kid)
        clock.advance(by: period)
        #expect(try await keys.rotateIfDue() == true)
        let retired = try #require(try await storage.getKeys().verificationKeys.first { $0.kid == k1 })
        #expect(retired.expiry == clock.now + lifetime + 2 + 60)
        #expect(keys.retirementMargin == 60)
    }

    @Test("Reload is a no-op when storage is unchanged and picks up another replica's rotation")
    func reload() async throws {
        let storage = TestKeyStorage(), clock = TestClock()
        let a = manager(storage, clock), b = manager(storage, clock)
        try await a.start()
        try await b.start()
        let before = b.snapshot
        try await b.reload()
        #expect(b.snapshot === before)

        clock.advance(by: period)
        #expect(try await a.rotateIfDue() == true)
        try await b.reload()
        #expect(b.snapshot !== before)
        #expect(b.snapshot.signer?.kid == a.snapshot.signer?.kid)
        #expect(b.snapshot.jwksJSON == a.snapshot.jwksJSON)
    }

    @Test("Replicas racing at the same instant rotate exactly once", arguments: [(2, SigningAlgorithm.rs256), (10, .es256)])
    func racingReplicas(_ count: Int, _ algorithm: SigningAlgorithm) async throws {
        let storage = TestKeyStorage(), clock = TestClock()
        let managers = (0..<count).map { _ in manager(storage, clock, algorithm) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for m in managers { group.addTask { try await m.start() } }
            try await group.waitForAll()
        }
        #expect(await storage.commits == 2)  // exactly one initialisation and one pre-publication
        let initial = try await storage.getKeys()

        clock.advance(by: period)
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for m in managers { group.addTask { try await m.rotateIfDue() } }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.filter { $0 }.count == 1)
        #expect(await storage.commits == 3)
        let rotated = try await storage.getKeys()
        #expect(rotated.signingKey?.kid == initial.nextSigningKey?.kid)
        #expect(rotated.verificationKeys.map(\.kid) == [initial.signingKey?.kid])
        #expect(await storage.signingKIDHistory == [initial.signingKey!.kid, initial.nextSigningKey!.kid])
        for m in managers {
            try await m.reload()
            #expect(m.snapshot.signer?.kid == rotated.signingKey?.kid)
        }
    }

    @Test("A replica whose read went stale before its compare-and-swap backs off instead of rotating twice")
    func staleReplicaBacksOff() async throws {
        let storage = TestKeyStorage(), clock = TestClock()
        let a = manager(storage, clock), b = manager(storage, clock)
        try await a.start()
        try await b.start()
        let initial = try await storage.getKeys()
        clock.advance(by: period)
        // A reads "due" and generates its key; B rotates before A's updater sees the stored value.
        await storage.interposeBeforeNextUpdate {
            let rotated = try await b.rotateIfDue()
            #expect(rotated)
        }
        #expect(try await a.rotateIfDue() == false)
        #expect(await storage.commits == 3)
        let rotated = try await storage.getKeys()
        #expect(rotated.signingKey?.kid == initial.nextSigningKey?.kid)
        #expect(rotated.verificationKeys.count == 1)
        #expect(a.snapshot.signer?.kid == rotated.signingKey?.kid)  // A still picked up B's keys
    }

    @Test("A configured algorithm change rotates at once; tokens of the old key still verify")
    func algorithmChange() async throws {
        let storage = TestKeyStorage(), clock = TestClock()
        let rsa = manager(storage, clock, .rs256)
        try await rsa.start()
        let oldKeys = try await storage.getKeys()
        let oldToken = try rsa.snapshot.sign(sampleClaims(now: clock.now))

        clock.advance(by: 5)  // well before nextRotation
        let ec = manager(storage, clock, .es256)
        try await ec.start()
        let keys = try await storage.getKeys()
        #expect(keys.signingKey?.algorithm == "ES256" && keys.nextSigningKey?.algorithm == "ES256")
        #expect(keys.verificationKeys.map(\.kid) == [oldKeys.signingKey?.kid])  // the unused RS256 next key is dropped
        #expect(ec.snapshot.signer?.algorithm == .es256)
        #expect(try ec.snapshot.verify(oldToken).sub == "CgNqb2USBWxvY2Fs")
        #expect(keys.nextRotation == clock.now + period)
    }

    @Test("Keys without a next key (as Dex stores them) get one pre-published without rotating")
    func prePublish() async throws {
        let clock = TestClock()
        let signing = try SigningKey.generate(algorithm: .es256)
        let storage = TestKeyStorage(Keys(signingKey: signing, nextRotation: clock.now + 50))
        let keys = manager(storage, clock)
        try await keys.start()
        let stored = try await storage.getKeys()
        #expect(stored.signingKey == signing)
        #expect(stored.nextSigningKey != nil && stored.nextRotation == clock.now + 50)
        #expect(keys.snapshot.publishedKIDs.count == 2)
    }

    @Test("run() polls storage, rotates when due and stops when cancelled")
    func runLoop() async throws {
        let storage = TestKeyStorage(), clock = TestClock()
        let keys = manager(storage, clock, poll: 0.01)
        try await keys.start()
        let next = try #require(try await storage.getKeys().nextSigningKey?.kid)
        let loop = Task { await keys.run() }
        clock.advance(by: period)
        let deadline = Date() + 10
        while keys.snapshot.signer?.kid != next, Date() < deadline { try await Task.sleep(nanoseconds: 5_000_000) }
        #expect(keys.snapshot.signer?.kid == next)
        loop.cancel()
        await loop.value
        #expect(await storage.commits == 3)
    }

    @Test("A server start is ready with the signing key alone; run() pre-publishes the next key at once")
    func deferredNextKey() async throws {
        let storage = TestKeyStorage(), clock = TestClock()
        let keys = manager(storage, clock, poll: 60)
        try await keys.start(prePublishNext: false)
        let first = try await storage.getKeys()
        let signing = try #require(first.signingKey)
        #expect(first.nextSigningKey == nil)
        #expect(keys.snapshot.publishedKIDs == [signing.kid])
        #expect(await storage.commits == 1)

        // The first tick comes before the first sleep, so a long poll interval does not delay it.
        let loop = Task { await keys.run() }
        let deadline = Date() + 10
        while keys.snapshot.publishedKIDs.count < 2, Date() < deadline { try await Task.sleep(nanoseconds: 5_000_000) }
        loop.cancel()
        await loop.value
        let stored = try await storage.getKeys()
        let next = try #require(stored.nextSigningKey)
        #expect(stored.signingKey == signing)
        #expect(keys.snapshot.publishedKIDs == [signing.kid, next.kid])
        #expect(keys.snapshot.signer?.kid == signing.kid)
        #expect(stored.nextRotation == first.nextRotation)
        #expect(await storage.commits == 2)
    }

    @Test("The hot path signs in parallel from one snapshot while rotation runs")
    func signingDuringRotation() async throws {
        let storage = TestKeyStorage(), clock = TestClock()
        let keys = manager(storage, clock, .rs256)
        try await keys.start()
        clock.advance(by: period)
        let tokens = try await withThrowingTaskGroup(of: String.self) { group in
            group.addTask { _ = try await keys.rotateIfDue(); return "" }
            for _ in 0..<32 { group.addTask { try keys.snapshot.sign(sampleClaims(now: clock.now)) } }
            return try await group.reduce(into: [String]()) { if !$1.isEmpty { $0.append($1) } }
        }
        for jwt in tokens { #expect(throws: Never.self) { try keys.snapshot.verify(jwt) } }
    }
}
