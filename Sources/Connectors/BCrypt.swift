import CCrypt
import FedgateCore
import Foundation

/// bcrypt through the system's libxcrypt, for Dex's password DB (`staticPasswords`, gRPC `CreatePassword`).
///
/// Why libxcrypt rather than a Swift port: it is the audited implementation the OS already ships
/// (crypt_blowfish by Openwall) and it knows the `$2a$`, `$2b$` and `$2y$` prefixes Dex's Go
/// `golang.org/x/crypto/bcrypt` accepts. Only the reentrant entry points are used (`crypt_rn`,
/// `crypt_gensalt_rn`) with a fresh, heap-allocated `struct crypt_data` per call, so calls on
/// different threads share no state.
///
/// bcrypt is deliberately slow (about 50–100 ms at cost 10 on this hardware). Never call
/// ``verify(password:hash:)`` or ``hash(password:cost:)`` from an event loop or for long on the
/// cooperative pool: use ``verifyAsync(password:hash:)``, which runs the work on a dedicated queue.
public enum BCrypt {
    /// The prefixes Fedgate accepts: `$2a$` (original), `$2b$` (OpenBSD 2014 fix, what Go writes)
    /// and `$2y$` (PHP/crypt_blowfish's name for the fixed algorithm).
    public static let acceptedPrefixes = ["$2a$", "$2b$", "$2y$"]

    /// Dex's policy for stored password hashes (`server/passwords/passwords.go` `CheckCost`): a cost
    /// below `bcrypt.DefaultCost` (10) is rejected as too weak, a cost above 16 as too expensive
    /// for the server (a denial-of-service risk on every login).
    public static let acceptedCosts: ClosedRange<Int> = 10...16

    /// The cost range bcrypt itself defines (log2 of the number of key-expansion rounds).
    public static let algorithmCosts: ClosedRange<Int> = 4...31

    /// The cost Dex recommends for new hashes (`recCost`).
    public static let recommendedCost = 12

    /// bcrypt only uses the first 72 bytes of a password; `hash` refuses longer ones rather than
    /// silently truncating (as Go's `GenerateFromPassword` does since x/crypto 0.17).
    public static let maximumPasswordBytes = 72

    private static let hashLength = 60
    private static let alphabet = Set("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)

    /// A concurrent queue kept apart from Swift's cooperative pool, so a burst of logins cannot
    /// starve the pool's few threads (one per core) that run every request handler.
    private static let queue = DispatchQueue(label: "fedgate.bcrypt", qos: .userInitiated, attributes: .concurrent)

    // MARK: - Parsing

    /// The cost encoded in a well-formed bcrypt hash (`$2b$12$...` -> 12), or nil.
    public static func cost(of hash: String) -> Int? {
        let bytes = Array(hash.utf8)
        guard bytes.count == hashLength,
              acceptedPrefixes.contains(where: { hash.hasPrefix($0) }),
              bytes[6] == UInt8(ascii: "$"),
              let tens = digit(bytes[4]), let ones = digit(bytes[5]),
              bytes[7...].allSatisfy({ alphabet.contains($0) })
        else { return nil }
        let cost = tens * 10 + ones
        return algorithmCosts.contains(cost) ? cost : nil
    }

    /// Whether `hash` is acceptable as a stored password: a well-formed `$2a$`/`$2b$`/`$2y$` hash
    /// of exactly 60 characters whose cost is within Dex's bounds, 10...16 inclusive
    /// (``acceptedCosts``). Dex applies this rule when a local user logs in and when a password is
    /// created through its API.
    public static func isValid(_ hash: String) -> Bool {
        guard let cost = cost(of: hash) else { return false }
        return acceptedCosts.contains(cost)
    }

    /// Normalises a configured `staticPasswords[].hash`: Dex accepts either the bcrypt text or,
    /// "for backwards compatibility", standard base64 of it (`cmd/dex/config.go`
    /// `Password.UnmarshalJSON`). Returns the bcrypt text, or nil if neither form is a well-formed
    /// bcrypt hash. Like Dex, this does not apply the cost bounds; check ``isValid(_:)`` for that.
    public static func normalize(_ configured: String) -> String? {
        let trimmed = trimmingWhitespace(configured)
        if cost(of: trimmed) != nil { return trimmed }
        guard let data = Data(base64Encoded: trimmed),
              let decoded = String(data: data, encoding: .utf8),
              cost(of: decoded) != nil
        else { return nil }
        return decoded
    }

    /// `s` without leading and trailing scalars of `CharacterSet.whitespacesAndNewlines`: Unicode
    /// White_Space (general category Z*, U+0009...U+000D, U+0085) plus U+200B, which
    /// swift-corelibs-foundation's set still holds (a test checks every BMP scalar against it).
    /// Matched with the standard library's own Unicode tables: Foundation's `CharacterSet` and
    /// `NSString` trimming page in about 0.8 MiB of Foundation and CoreFoundation code at start-up
    /// (each static password is normalised while the config loads; issue 3, idle RSS).
    static func trimmingWhitespace(_ s: String) -> String {
        func isSpace(_ scalar: Unicode.Scalar) -> Bool { scalar.properties.isWhitespace || scalar == "\u{200B}" }
        let scalars = s.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
              let last = scalars.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(scalars[first...last])
    }

    // MARK: - Verification

    /// Checks `password` against a bcrypt `hash`. Synchronous and CPU-heavy: call it from
    /// ``verifyAsync(password:hash:)`` unless already on a thread that may block.
    ///
    /// Returns false without hashing for an empty password, a password containing NUL (C strings
    /// would truncate it, so two different passwords could match) and a malformed hash. The
    /// computed hash is compared in constant time.
    public static func verify(password: String, hash: String) -> Bool {
        guard !password.isEmpty, !password.utf8.contains(0), cost(of: hash) != nil else { return false }
        guard let computed = crypt(password: password, setting: hash) else { return false }
        return ConstantTime.equals(computed, hash)
    }

    /// ``verify(password:hash:)`` on a dedicated dispatch queue, resuming the caller when done.
    public static func verifyAsync(password: String, hash: String) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            queue.async {
                continuation.resume(returning: verify(password: password, hash: hash))
            }
        }
    }

    // MARK: - Hashing

    /// A new `$2b$` hash of `password` with a random salt from the OS (libxcrypt reads
    /// `getrandom`/`/dev/urandom` when no salt bytes are given).
    ///
    /// - Throws: ``BCryptError`` for an empty password, one with NUL bytes or longer than
    ///   ``maximumPasswordBytes``, or a cost outside ``algorithmCosts``.
    public static func hash(password: String, cost: Int = recommendedCost) throws -> String {
        guard !password.isEmpty else { throw BCryptError("password is empty") }
        guard !password.utf8.contains(0) else { throw BCryptError("password contains a NUL byte") }
        guard password.utf8.count <= maximumPasswordBytes else {
            throw BCryptError("password is longer than \(maximumPasswordBytes) bytes")
        }
        guard algorithmCosts.contains(cost) else {
            throw BCryptError("cost \(cost) is outside \(algorithmCosts.lowerBound)...\(algorithmCosts.upperBound)")
        }
        var settingBuffer = [CChar](repeating: 0, count: Int(CRYPT_GENSALT_OUTPUT_SIZE))
        let made = settingBuffer.withUnsafeMutableBufferPointer { buffer in
            crypt_gensalt_rn("$2b$", UInt(cost), nil, 0, buffer.baseAddress, Int32(buffer.count))
        }
        guard made != nil else { throw BCryptError("libcrypt could not generate a bcrypt salt") }
        let setting = String(decoding: settingBuffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let result = crypt(password: password, setting: setting), self.cost(of: result) == cost else {
            throw BCryptError("libcrypt could not hash the password")
        }
        return result
    }

    // MARK: - libxcrypt

    /// Runs `crypt_rn` with a zeroed `struct crypt_data` of its own (about 32 KB, so on the heap
    /// rather than the stack). Returns nil when libxcrypt rejects the setting.
    private static func crypt(password: String, setting: String) -> String? {
        let size = MemoryLayout<crypt_data>.size
        let data = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: MemoryLayout<crypt_data>.alignment)
        data.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        defer {
            // The buffer held the password's derived state: wipe it before giving it back.
            data.initializeMemory(as: UInt8.self, repeating: 0, count: size)
            data.deallocate()
        }
        guard let output = crypt_rn(password, setting, data, Int32(size)) else { return nil }
        let result = String(cString: output)
        // libxcrypt's failure token starts with "*"; crypt_rn should return NULL instead, but be sure.
        return result.hasPrefix("*") ? nil : result
    }

    private static func digit(_ byte: UInt8) -> Int? {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? Int(byte - UInt8(ascii: "0")) : nil
    }
}

/// Why ``BCrypt/hash(password:cost:)`` refused. Never contains the password.
public struct BCryptError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { "bcrypt: \(reason)" }
}
