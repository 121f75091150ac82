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
///
/// Attempts for one username take turns in this process (`attempt`): concurrent guesses cannot
/// all pass the check before the first failure is counted, so across replicas at most one
/// guess per replica runs past the limit. Concurrent logins of one user still all succeed, one
/// password check after another.
struct LoginThrottler: Sendable {
    let storage: any GatewayStorage
    let policy: PasswordPolicySettings
    let now: @Sendable () -> Date
    /// One password check per username at a time.
    let turns = KeyedUpdateLock()

    /// What `attempt` found.
    enum Outcome<Value: Sendable>: Sendable {
        /// Refused before the password was checked.
        case limited(retryAfter: Int)
        /// Wrong credentials; counted.
        case failed
        case succeeded(Value)
    }

    /// Runs one password check (`verify` answers nil for wrong credentials) under the limiter:
    /// refused while the username or the address is locked, otherwise run in the username's
    /// turn and counted. An error from `verify` (the upstream failed) counts nothing and is
    /// rethrown.
    func attempt<Value: Sendable>(connectorID: String, username: String, address: String,
                                  _ verify: () async throws -> Value?) async throws -> Outcome<Value> {
        func run() async throws -> Outcome<Value> {
            if case .limited(let retryAfter) = try await self.check(connectorID: connectorID, username: username, address: address) {
                return .limited(retryAfter: retryAfter)
            }
            guard let value = try await verify() else {
                try await self.recordFailure(connectorID: connectorID, username: username, address: address)
                return .failed
            }
            await self.recordSuccess(connectorID: connectorID, username: username)
            return .succeeded(value)
        }
        guard policy.maxFailures > 0 else { return try await run() }
        return try await turns.withLock(Self.userKey(connectorID: connectorID, username: username), run)
    }

    enum Verdict: Equatable, Sendable {
        case allowed
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

    /// Whether an attempt may proceed to the password check.
    func check(connectorID: String, username: String, address: String) async throws -> Verdict {
        let current = now()
        var wait: TimeInterval = 0
        for (key, _) in keys(connectorID: connectorID, username: username, address: address) {
            guard let throttle = try? await storage.getLoginThrottle(key: key), let until = throttle.lockedUntil, until > current else { continue }
            wait = max(wait, until.timeIntervalSince(current))
        }
        return wait > 0 ? .limited(retryAfter: Int(wait.rounded(.up))) : .allowed
    }

    /// Counts a failed attempt; the limit-th failure starts a lockout that doubles with each
    /// further failure, up to `maxLockout`.
    func recordFailure(connectorID: String, username: String, address: String) async throws {
        let current = now()
        let policy = self.policy
        for (key, limit) in keys(connectorID: connectorID, username: username, address: address) {
            let apply: @Sendable (inout LoginThrottle) -> Void = { t in
                if current.timeIntervalSince(t.windowStart) > policy.window, (t.lockedUntil ?? .distantPast) <= current {
                    t.failures = 0
                    t.windowStart = current
                    t.lockedUntil = nil
                }
                t.failures += 1
                if t.failures >= limit {
                    let doublings = min(t.failures - limit, 20)
                    let lock = min(policy.lockout * pow(2, Double(doublings)), policy.maxLockout)
                    t.lockedUntil = current.addingTimeInterval(lock)
                }
                t.expiry = max(t.windowStart.addingTimeInterval(policy.window), t.lockedUntil ?? current).addingTimeInterval(policy.window)
            }
            for _ in 0..<3 {
                do {
                    try await storage.updateLoginThrottle(key: key, apply)
                    break
                } catch let e as StorageError where e.isNotFound {
                    var fresh = LoginThrottle(key: key, failures: 0, windowStart: current, expiry: current)
                    apply(&fresh)
                    do {
                        try await storage.createLoginThrottle(fresh)
                        break
                    } catch let e as StorageError where e.isAlreadyExists {
                        continue  // another replica created it first: count on top of theirs
                    }
                }
            }
        }
    }

    /// A successful login clears the username's count (the address count decays with its window,
    /// so an attacker cannot reset it by logging into an account of their own).
    func recordSuccess(connectorID: String, username: String) async {
        guard policy.maxFailures > 0 else { return }
        try? await storage.deleteLoginThrottle(key: Self.userKey(connectorID: connectorID, username: username))
    }

    static func message(retryAfter: Int) -> String {
        "Too many failed attempts. Try again in \(retryAfter) second\(retryAfter == 1 ? "" : "s")."
    }
}
