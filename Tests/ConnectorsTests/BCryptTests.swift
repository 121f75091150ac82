import Connectors
import Foundation
import Testing

@Suite("bcrypt over libxcrypt")
struct BCryptTests {
    /// Dex's `examples/config-dev.yaml` admin: the hash of "password".
    static let dexAdminHash = "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"

    /// OpenBSD / crypt_blowfish test vectors (cost 5).
    static let vectors: [(hash: String, password: String)] = [
        ("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"),
        ("$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK", "U*U*"),
        ("$2a$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a", "U*U*U"),
    ]

    @Test("Dex's example hash verifies 'password'")
    func knownVector() {
        #expect(BCrypt.verify(password: "password", hash: Self.dexAdminHash))
    }

    @Test("$2b$ and $2y$ spellings of the same hash verify the same ASCII password", arguments: ["$2b$", "$2y$"])
    func prefixVariants(prefix: String) {
        let hash = prefix + Self.dexAdminHash.dropFirst(4)
        #expect(BCrypt.verify(password: "password", hash: hash))
        #expect(!BCrypt.verify(password: "Password", hash: hash))
    }

    @Test("OpenBSD vectors verify, and fail for the neighbouring password")
    func openBSDVectors() {
        for (hash, password) in Self.vectors {
            #expect(BCrypt.verify(password: password, hash: hash))
            #expect(!BCrypt.verify(password: password + "U", hash: hash))
        }
    }

    @Test("only the first 72 bytes of a password count")
    func truncationAt72Bytes() {
        let hash = "$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui"
        let base = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        #expect(BCrypt.verify(password: base + "chars after 72 are ignored", hash: hash))
        #expect(BCrypt.verify(password: base + "anything", hash: hash))
    }

    @Test("wrong, empty and NUL-containing passwords are refused")
    func refusals() {
        #expect(!BCrypt.verify(password: "passwore", hash: Self.dexAdminHash))
        #expect(!BCrypt.verify(password: "", hash: Self.dexAdminHash))
        #expect(!BCrypt.verify(password: "password\u{0}extra", hash: Self.dexAdminHash))
    }

    @Test("malformed hashes never verify")
    func malformedHashes() {
        let malformed = [
            "", "password", String(Self.dexAdminHash.dropLast()), Self.dexAdminHash + "A",
            "$2x$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W",
            "$1$saltsalt$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7M",
        ]
        for hash in malformed {
            #expect(!BCrypt.verify(password: "password", hash: hash), "\(hash)")
        }
    }

    @Test("cost is parsed from well-formed hashes only")
    func costParsing() {
        let body = Self.dexAdminHash.dropFirst(7)
        #expect(BCrypt.cost(of: Self.dexAdminHash) == 10)
        #expect(BCrypt.cost(of: "$2b$04$" + body) == 4)
        #expect(BCrypt.cost(of: "$2y$31$" + body) == 31)
        #expect(BCrypt.cost(of: "$2b$03$" + body) == nil)
        #expect(BCrypt.cost(of: "$2b$32$" + body) == nil)
        #expect(BCrypt.cost(of: "$2b$1x$" + body) == nil)
        #expect(BCrypt.cost(of: "$2b$10$" + body.dropLast() + "!") == nil)
    }

    @Test("isValid applies Dex's cost bounds 10...16", arguments: [
        (9, false), (10, true), (12, true), (16, true), (17, false), (4, false), (31, false),
    ])
    func costBounds(cost: Int, valid: Bool) {
        let hash = "$2b$" + String(format: "%02d", cost) + "$" + Self.dexAdminHash.dropFirst(7)
        #expect(BCrypt.isValid(hash) == valid)
    }

    @Test("normalize accepts the hash text or base64 of it")
    func normalize() {
        let base64 = Data(Self.dexAdminHash.utf8).base64EncodedString()
        #expect(BCrypt.normalize(Self.dexAdminHash) == Self.dexAdminHash)
        #expect(BCrypt.normalize(base64) == Self.dexAdminHash)
        #expect(BCrypt.normalize(" \(Self.dexAdminHash)\n") == Self.dexAdminHash)
        #expect(BCrypt.normalize("password") == nil)
        #expect(BCrypt.normalize(Data("not a hash".utf8).base64EncodedString()) == nil)
        #expect(BCrypt.normalize("") == nil)
    }

    @Test("hash produces a $2b$ hash of the requested cost that verifies")
    func hashRoundTrip() throws {
        let hash = try BCrypt.hash(password: "correct horse", cost: 4)
        #expect(hash.hasPrefix("$2b$04$"))
        #expect(BCrypt.cost(of: hash) == 4)
        #expect(BCrypt.verify(password: "correct horse", hash: hash))
        #expect(!BCrypt.verify(password: "correct horsf", hash: hash))
        // A fresh salt every time.
        #expect(try BCrypt.hash(password: "correct horse", cost: 4) != hash)
    }

    @Test("a cost-10 hash is acceptable to Dex's policy")
    func hashAtDexCost() throws {
        let hash = try BCrypt.hash(password: "s3cret", cost: 10)
        #expect(BCrypt.isValid(hash))
        #expect(BCrypt.normalize(hash) == hash)
    }

    @Test("hash refuses what bcrypt cannot represent faithfully")
    func hashRefusals() {
        #expect(throws: BCryptError.self) { try BCrypt.hash(password: "", cost: 4) }
        #expect(throws: BCryptError.self) { try BCrypt.hash(password: "a\u{0}b", cost: 4) }
        #expect(throws: BCryptError.self) { try BCrypt.hash(password: String(repeating: "x", count: 73), cost: 4) }
        #expect(throws: BCryptError.self) { try BCrypt.hash(password: "fine", cost: 3) }
        #expect(throws: BCryptError.self) { try BCrypt.hash(password: "fine", cost: 32) }
    }

    @Test("verifyAsync is safe to run concurrently")
    func concurrentVerification() async {
        let results = await withTaskGroup(of: Bool.self, returning: [Bool].self) { group in
            for round in 0..<4 {
                for (hash, password) in Self.vectors {
                    let attempt = round.isMultiple(of: 2) ? password : password + "!"
                    group.addTask { await BCrypt.verifyAsync(password: attempt, hash: hash) == round.isMultiple(of: 2) }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 12)
        #expect(results.allSatisfy { $0 })
    }
}
