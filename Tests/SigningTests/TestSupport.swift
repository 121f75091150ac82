import Foundation
import Logging
import Signing
import Storage

/// A `KeyStorage` with faithful compare-and-swap: the updater runs on a copy, the actor yields (so
/// concurrent callers interleave as they would against a real database), and the write commits only
/// if nobody committed in between; otherwise the updater reruns on the fresh value.
actor TestKeyStorage: KeyStorage {
    private var keys: Keys
    private var version = 0
    /// Successful writes.
    private(set) var commits = 0
    /// Updater invocations, including reruns after a lost CAS.
    private(set) var updaterRuns = 0
    /// Every signing kid that was ever committed, in order.
    private(set) var signingKIDHistory: [String] = []

    /// Runs once at the start of the next `updateKeys`, before the updater reads the value: lets a test
    /// slip another replica's write in between a manager's read and its compare-and-swap.
    private var interposer: (@Sendable () async throws -> Void)?

    init(_ keys: Keys = Keys()) { self.keys = keys }

    func interposeBeforeNextUpdate(_ body: @escaping @Sendable () async throws -> Void) { interposer = body }

    func getKeys() async throws -> Keys { keys }

    func updateKeys(_ update: @escaping @Sendable (inout Keys) throws -> Void) async throws {
        if let body = interposer {
            interposer = nil
            try await body()
        }
        for _ in 0..<1000 {
            let (base, baseVersion) = (keys, version)
            var candidate = base
            updaterRuns += 1
            try update(&candidate)
            await Task.yield()
            guard version == baseVersion else { continue }
            keys = candidate
            version += 1
            commits += 1
            if let kid = candidate.signingKey?.kid, signingKIDHistory.last != kid { signingKIDHistory.append(kid) }
            return
        }
        throw StorageError.conflict
    }

    func replace(_ newKeys: Keys) { keys = newKeys; version += 1 }
}

/// A clock tests move by hand.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    init(_ start: Date = Date(timeIntervalSince1970: 1_700_000_000)) { current = start }

    var now: Date { lock.lock(); defer { lock.unlock() }; return current }

    func advance(by seconds: TimeInterval) { lock.lock(); current += seconds; lock.unlock() }

    var function: @Sendable () -> Date { { self.now } }
}

let quietLogger = Logger(label: "fedgate.signing.tests", factory: { _ in SwiftLogNoOpLogHandler() })

func sampleClaims(now: Date = Date(), lifetime: TimeInterval = 3600, aud: [String] = ["example-app"]) -> TokenClaims {
    TokenClaims(iss: "http://127.0.0.1:5556/dex", sub: "CgNqb2USBWxvY2Fs", aud: aud,
                exp: now + lifetime, iat: now, nonce: "n-0S6_WzA2Mj", email: "jane@example.com",
                emailVerified: true, name: "Jane Doe", groups: ["admins", "devs"],
                federatedClaims: .init(connectorID: "local", userID: "jane"))
}

/// Replaces one dot-separated segment of a compact JWS.
func replacingSegment(_ index: Int, of jwt: String, with segment: String) -> String {
    var parts = jwt.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    parts[index] = segment
    return parts.joined(separator: ".")
}
