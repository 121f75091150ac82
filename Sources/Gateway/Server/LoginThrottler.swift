import Crypto
import FedgateCore
import Foundation
import Storage

/// Brute-force protection for password logins (`oauth2.passwordPolicy`), kept in storage so
/// every replica enforces the same limits (Dex #3509, #1671).
///
/// Two keys are counted for each attempt: the username at the connector and the client address.
/// Usernames are hashed before they become keys (bounded length, no user input stored) and are
/// counted the same whether or not the user exists, so the limiter reveals nothing about
/// accounts. While a key is locked, attempts are refused before the password is checked.
struct LoginThrottler: Sendable {
    let storage: any GatewayStorage
    let policy: PasswordPolicySettings
    let now: @Sendable () -> Date

    /// An attempt `begin` let through. It is already counted as a failure under each key, so
    /// concurrent guesses cannot all pass a check that only reads the counts: the limit-th one
    /// locks the key and the rest are refused. A success or an upstream error takes it back.
    struct Attempt: Sendable {
        fileprivate struct Count: Sendable {
            let key: String
            /// The lock before this attempt, and the one it left (set when it reached the limit).
            let lockBefore: Date?
            let lockAfter: Date?
        }
        fileprivate let counts: [Count]
        let connectorID: String
        let username: String
    }

    enum Verdict: Sendable {
        case allowed(Attempt)
        case limited(retryAfter: Int)
    }

    static func userKey(connectorID: String, username: String) -> String {
        let normalized = username.trimmingCharacters(in: .whitespaces).lowercased()
        let digest = SHA256.hash(data: Data((connectorID + "\u{0}" + normalized).utf8))
        return "user:" + digest.map { String(format: "%02x", $0) }.joined()
    }

    static func addressKey(_ address: String) -> String { "ip:" + address }

    private func keys(connectorID: String, username: String, address: String) -> [(String, Int)] {
        var keys: [(String, Int)] = []
        if policy.maxFailures > 0 { keys.append((Self.userKey(connectorID: connectorID, username: username), policy.maxFailures)) }
        if policy.maxFailuresPerIP > 0 { keys.append((Self.addressKey(address), policy.maxFailuresPerIP)) }
        return keys
    }

    /// Admits an attempt to the password check, counting it as a failure up front, or refuses it
    /// while the username or the address is locked. Each count is a compare-and-swap update in
    /// storage, so replicas and concurrent requests share one count.
    func begin(connectorID: String, username: String, address: String) async throws -> Verdict {
        let current = now()
        var counted: [Attempt.Count] = []
        for (key, limit) in keys(connectorID: connectorID, username: username, address: address) {
            switch try await count(key: key, limit: limit, at: current) {
            case .counted(let count):
                counted.append(count)
            case .locked(let until):
                // Refused: the keys counted so far take this attempt back.
                for count in counted { await uncount(count) }
                return .limited(retryAfter: max(1, Int(until.timeIntervalSince(current).rounded(.up))))
            }
        }
        return .allowed(Attempt(counts: counted, connectorID: connectorID, username: username))
    }

    /// The password was right: the username's count is cleared, and the address keeps only its
    /// earlier failures (it decays with its window, so an attacker cannot reset it by logging
    /// into an account of their own).
    func succeeded(_ attempt: Attempt) async {
        let userKey = Self.userKey(connectorID: attempt.connectorID, username: attempt.username)
        for count in attempt.counts {
            if count.key == userKey {
                try? await storage.deleteLoginThrottle(key: userKey)
            } else {
                await uncount(count)
            }
        }
    }

    /// The upstream could not decide (unreachable, or it failed): the attempt is not a failure.
    func abandoned(_ attempt: Attempt) async {
        for count in attempt.counts { await uncount(count) }
    }

    private enum Counting: Sendable {
        case counted(Attempt.Count)
        case locked(until: Date)
    }

    /// Adds one failure to `key`; the limit-th starts a lockout that doubles with each further
    /// failure, up to `maxLockout`. A key locked now is left as it is.
    private func count(key: String, limit: Int, at current: Date) async throws -> Counting {
        if let throttle = try? await storage.getLoginThrottle(key: key), let until = throttle.lockedUntil, until > current {
            return .locked(until: until)
        }
        let policy = self.policy
        let outcome = LockedBox<Counting?>(nil)
        let apply: @Sendable (inout LoginThrottle) -> Void = { t in
            if let until = t.lockedUntil, until > current {
                outcome.value = .locked(until: until)
                return
            }
            if current.timeIntervalSince(t.windowStart) > policy.window {
                t.failures = 0
                t.windowStart = current
                t.lockedUntil = nil
            }
            let before = t.lockedUntil
            t.failures += 1
            if t.failures >= limit {
                let doublings = min(t.failures - limit, 20)
                let lock = min(policy.lockout * pow(2, Double(doublings)), policy.maxLockout)
                t.lockedUntil = current.addingTimeInterval(lock)
            }
            t.expiry = max(t.windowStart.addingTimeInterval(policy.window), t.lockedUntil ?? current).addingTimeInterval(policy.window)
            outcome.value = .counted(Attempt.Count(key: key, lockBefore: before, lockAfter: t.lockedUntil))
        }
        for _ in 0..<3 {
            do {
                try await storage.updateLoginThrottle(key: key, apply)
            } catch let e as StorageError where e.isNotFound {
                var fresh = LoginThrottle(key: key, failures: 0, windowStart: current, expiry: current)
                apply(&fresh)
                do {
                    try await storage.createLoginThrottle(fresh)
                } catch let e as StorageError where e.isAlreadyExists {
                    continue  // another request or replica created it first: count on top of theirs
                }
            }
            if let result = outcome.value { return result }
        }
        throw StorageError.conflict
    }

    /// Takes one counted failure back, and the lock it set if nothing changed the lock since.
    private func uncount(_ count: Attempt.Count) async {
        try? await storage.updateLoginThrottle(key: count.key) { t in
            t.failures = max(0, t.failures - 1)
            if Self.same(t.lockedUntil, count.lockAfter), !Self.same(count.lockAfter, count.lockBefore) { t.lockedUntil = count.lockBefore }
        }
    }

    /// Equal as stored (storage keeps times to the microsecond).
    private static func same(_ a: Date?, _ b: Date?) -> Bool {
        switch (a, b) {
        case (nil, nil): true
        case (let a?, let b?): abs(a.timeIntervalSince(b)) < 0.001
        default: false
        }
    }

    static func message(retryAfter: Int) -> String {
        "Too many failed attempts. Try again in \(retryAfter) second\(retryAfter == 1 ? "" : "s")."
    }
}
