import Foundation
import Logging
import Storage

/// Owns the signing keys of one Fedgate replica: creates them, rotates them, and keeps an in-memory
/// `KeySnapshot` that request handlers read synchronously.
///
/// Rotation follows Dex (`server/signer/rotation.go`) with one fix, pre-publication (Dex #2759): the key
/// that will sign next is published in `/keys` a whole rotation period before it signs anything, so
/// relying parties that cache the JWKS never see a token from a key they do not know yet.
///
/// - At first start with empty storage, signing key K1 and next key K2 are created and both published;
///   `nextRotation = now + rotationPeriod`.
/// - When `now >= nextRotation`, K1 moves to the verification keys with `expiry = now + idTokenLifetime`
///   (kept until the last token it signed expires), K2 becomes the signing key, a new K3 is pre-published,
///   expired verification keys are pruned and `nextRotation = now + rotationPeriod`.
/// - If the configured algorithm differs from the stored signing key's, rotation happens at once (the
///   next key is promoted if it already has the configured algorithm). All replicas sharing a storage
///   should run the same `signer.config.algorithm`; replicas that disagree would keep rotating.
///
/// Replicas sharing one storage rotate exactly once: new keys are generated outside the transaction,
/// then `updateKeys` re-decides on the value it is about to replace, and a replica that lost the race
/// finds nothing due and backs off. Correctness rests on the backend's compare-and-swap.
///
/// The snapshot sits behind a lock that is held only to copy a reference, so signing never waits on
/// this type and runs in parallel on every core.
public final class KeyManager: Sendable {
    public let algorithm: SigningAlgorithm
    public let rotationPeriod: TimeInterval
    public let idTokenLifetime: TimeInterval
    /// How often `run()` re-reads storage (to pick up another replica's rotation) and checks due-ness.
    public let pollInterval: TimeInterval

    private let storage: any KeyStorage
    private let logger: Logger
    private let now: @Sendable () -> Date
    private let state: Locked<State>

    private struct State {
        var snapshot: KeySnapshot
        /// Storage reads are numbered; a snapshot is installed only if its read began after the
        /// installed one's, so a slow reload can never replace a newer key set with an older one.
        var readsStarted: UInt64 = 0
        var installedRead: UInt64 = 0
    }

    public init(storage: any KeyStorage, algorithm: SigningAlgorithm, rotationPeriod: TimeInterval = 6 * 3600,
                idTokenLifetime: TimeInterval, pollInterval: TimeInterval = 1, retirementMargin: TimeInterval = 60,
                logger: Logger, now: @escaping @Sendable () -> Date = Date.init) {
        self.storage = storage
        self.retirementMargin = retirementMargin
        self.algorithm = algorithm
        self.rotationPeriod = rotationPeriod
        self.idTokenLifetime = idTokenLifetime
        self.pollInterval = pollInterval
        self.logger = logger
        self.now = now
        self.state = Locked(State(snapshot: .empty(algorithm: algorithm, now: now)))
    }

    /// The current keys. Cheap and synchronous: meant to be read on every token request.
    public var snapshot: KeySnapshot { state.withLock { $0.snapshot } }

    /// Makes sure keys of the configured algorithm exist (creating or rotating them as needed) and loads them.
    ///
    /// - Parameter prePublishNext: also generate and publish the next key before returning. A server
    ///   passes false to become ready after one key generation: its maintenance loop (`run()`)
    ///   pre-publishes the next key on its first tick, hours before that key may sign.
    public func start(prePublishNext: Bool = true) async throws {
        try await rotateIfDue()
        if snapshot.signer?.algorithm != algorithm {
            // A replica with another configuration may have raced us; one more pass settles it.
            try await rotateIfDue()
        }
        guard snapshot.signer != nil else { throw SigningError.noSigningKey }
        if prePublishNext { try await rotateIfDue() }
    }

    /// Re-reads storage and rebuilds the snapshot if the stored keys changed; otherwise a no-op.
    public func reload() async throws {
        _ = try await loadAndInstall()
    }

    /// Creates, rotates, pre-publishes or prunes keys if the stored state calls for it.
    ///
    /// - Returns: true if this replica changed storage; false if nothing was due or another replica
    ///   made the change first (the snapshot is refreshed either way).
    @discardableResult
    public func rotateIfDue() async throws -> Bool {
        let observed = try await loadAndInstall()
        let now = self.now()
        let plan = KeyRotationPlan.decide(observed, algorithm: algorithm, now: now)
        guard plan != .none else { return false }

        let fresh = try await Self.generateKeys(plan.freshKeysNeeded, algorithm: algorithm)
        // A retired key stays published for an ID token's lifetime after its last signature. It
        // still signs here while the new key is generated and on other replicas until their next
        // poll, so its retirement is counted from later than `now`: `retirementMargin` covers
        // key generation, one poll and clock skew between replicas.
        let (algorithm, period) = (self.algorithm, rotationPeriod)
        let lifetime = idTokenLifetime + pollInterval + retirementMargin
        do {
            try await storage.updateKeys { keys in
                try plan.apply(to: &keys, observed: observed, fresh: fresh, algorithm: algorithm, now: now,
                               rotationPeriod: period, idTokenLifetime: lifetime)
            }
        } catch is KeyRotationPlan.Superseded {
            logger.info("signing keys already updated by another replica")
            _ = try await loadAndInstall()
            return false
        }
        let installed = try await loadAndInstall()
        logger.info("signing keys updated", metadata: [
            "action": "\(plan)",
            "signingKID": "\(installed.signingKey?.kid ?? "-")",
            "nextKID": "\(installed.nextSigningKey?.kid ?? "-")",
            "nextRotation": "\(installed.nextRotation)",
        ])
        return true
    }

    /// Extra time a retired key stays in `/keys` beyond an ID token's lifetime and one poll
    /// (see `rotateIfDue`): key generation and clock skew between replicas.
    public let retirementMargin: TimeInterval

    /// Polls storage every `pollInterval` and rotates when due, until the task is cancelled.
    /// Errors are logged and retried on the next tick.
    public func run() async {
        while !Task.isCancelled {
            do {
                try await rotateIfDue()
            } catch {
                logger.error("signing key maintenance failed", metadata: ["error": "\(error)"])
            }
            do {
                try await Task.sleep(nanoseconds: UInt64(max(pollInterval, 0.001) * 1_000_000_000))
            } catch {
                return  // cancelled
            }
        }
    }

    /// Reads the keys and installs a new snapshot if they changed. Returns what was read.
    private func loadAndInstall() async throws -> Keys {
        let read = state.withLock { s -> UInt64 in s.readsStarted += 1; return s.readsStarted }
        let keys = try await storage.getKeys()
        let unchanged = state.withLock { s -> Bool in
            guard s.snapshot.keys == keys else { return false }
            s.installedRead = max(s.installedRead, read)
            return true
        }
        if unchanged { return keys }

        let built: KeySnapshot
        do {
            built = try KeySnapshot(keys: keys, algorithm: algorithm, logger: logger, now: now)
        } catch {
            logger.error("stored signing keys are unusable; keeping the previous snapshot", metadata: ["error": "\(error)"])
            throw error
        }
        state.withLock { s in
            if read > s.installedRead {
                s.snapshot = built
                s.installedRead = read
            }
        }
        return keys
    }

    /// Generates keys on a dedicated thread: RSA keygen can take hundreds of milliseconds of CPU and
    /// must not occupy a cooperative-pool (or event-loop) thread for that long.
    private static func generateKeys(_ count: Int, algorithm: SigningAlgorithm) async throws -> [SigningKey] {
        guard count > 0 else { return [] }
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try (0..<count).map { _ in try SigningKey.generate(algorithm: algorithm) } })
            }
            thread.name = "fedgate-keygen"
            thread.start()
        }
    }
}
