import FedgateCore
import Foundation
import JWTKit
@testable import Signing
import Storage
import Testing
import _CryptoExtras

@Suite("TokenSigner and TokenVerifier")
struct TokenSignerTests {
    static let rsa = try! RSAKey.generate()
    static let ec = ES256Key.generate()

    func pair(_ algorithm: SigningAlgorithm, kid: String = "k1") throws -> (TokenSigner, TokenVerifier) {
        let key: any JWTAlgorithm = algorithm == .rs256 ? Self.rsa : Self.ec
        let signer = try TokenSigner(kid: kid, algorithm: algorithm, key: key)
        return (signer, TokenVerifier(keys: [(kid, algorithm, try signer.publicJWK().makeVerifier())]))
    }

    @Test("A signed token verifies and round-trips its claims", arguments: SigningAlgorithm.allCases)
    func signAndVerify(_ algorithm: SigningAlgorithm) throws {
        let (signer, verifier) = try pair(algorithm)
        let claims = sampleClaims()
        let jwt = try signer.sign(claims)
        #expect(jwt.split(separator: ".").count == 3)
        #expect(try verifier.verify(jwt, now: Date()) == claims)
    }

    @Test("The protected header names alg, kid and typ", arguments: SigningAlgorithm.allCases)
    func header(_ algorithm: SigningAlgorithm) throws {
        let (signer, _) = try pair(algorithm, kid: "abc123")
        let jwt = try signer.sign(sampleClaims())
        let header = try #require(Base64URL.decode(String(jwt.split(separator: ".")[0])))
        let json = try #require(try JSONSerialization.jsonObject(with: header) as? [String: String])
        #expect(json == ["alg": algorithm.name, "kid": "abc123", "typ": "JWT"])
    }

    @Test("RS256 signatures are 256 bytes and ES256 signatures 64 (R || S)", arguments: SigningAlgorithm.allCases)
    func signatureSize(_ algorithm: SigningAlgorithm) throws {
        let (signer, _) = try pair(algorithm)
        let jwt = try signer.sign(sampleClaims())
        let signature = try #require(Base64URL.decode(String(jwt.split(separator: ".")[2])))
        #expect(signature.count == (algorithm == .rs256 ? 256 : 64))
    }

    @Test("A tampered payload is rejected", arguments: SigningAlgorithm.allCases)
    func tamperedPayload(_ algorithm: SigningAlgorithm) throws {
        let (signer, verifier) = try pair(algorithm)
        let jwt = try signer.sign(sampleClaims())
        var forged = sampleClaims()
        forged.email = "mallory@example.com"
        let forgedPayload = Base64URL.encode(try JSONEncoder().encode(forged))
        #expect(throws: SigningError.invalidSignature) {
            try verifier.verify(replacingSegment(1, of: jwt, with: forgedPayload), now: Date())
        }
    }

    @Test("A tampered signature is rejected", arguments: SigningAlgorithm.allCases)
    func tamperedSignature(_ algorithm: SigningAlgorithm) throws {
        let (signer, verifier) = try pair(algorithm)
        let jwt = try signer.sign(sampleClaims())
        var signature = try #require(Base64URL.decode(String(jwt.split(separator: ".")[2])))
        signature[signature.count / 2] ^= 0x01
        #expect(throws: SigningError.invalidSignature) {
            try verifier.verify(replacingSegment(2, of: jwt, with: Base64URL.encode(signature)), now: Date())
        }
        #expect(throws: SigningError.invalidSignature) {
            try verifier.verify(replacingSegment(2, of: jwt, with: Base64URL.encode(signature.prefix(10))), now: Date())
        }
    }

    @Test("A token naming an unpublished kid is rejected")
    func wrongKID() throws {
        let (signer, _) = try pair(.rs256, kid: "signing")
        let (_, otherVerifier) = try pair(.rs256, kid: "other")
        #expect(throws: SigningError.unknownKey("")) { try otherVerifier.verify(try signer.sign(sampleClaims()), now: Date()) }
    }

    @Test("The key, not the token, decides the algorithm (alg none and alg swaps are rejected)")
    func algorithmConfusion() throws {
        let (signer, verifier) = try pair(.rs256, kid: "k1")
        let jwt = try signer.sign(sampleClaims())
        for alg in ["none", "HS256", "ES256"] {
            let header = Base64URL.encode(Data(#"{"alg":"\#(alg)","kid":"k1","typ":"JWT"}"#.utf8))
            #expect(throws: SigningError.algorithmMismatch("")) {
                try verifier.verify(replacingSegment(0, of: jwt, with: header), now: Date())
            }
        }
        let crit = Base64URL.encode(Data(#"{"alg":"RS256","kid":"k1","crit":["exp"],"exp":1}"#.utf8))
        #expect(throws: SigningError.malformedToken("")) { try verifier.verify(replacingSegment(0, of: jwt, with: crit), now: Date()) }
    }

    @Test("Malformed tokens are rejected", arguments: ["", "abc", "a.b", "a.b.c.d", "!!!.e30.c2ln"])
    func malformed(_ token: String) throws {
        let (_, verifier) = try pair(.es256)
        #expect(throws: SigningError.malformedToken("")) { try verifier.verify(token, now: Date()) }
    }

    @Test("An expired token is rejected even with a valid signature")
    func expired() throws {
        let (signer, verifier) = try pair(.es256)
        let issued = Date(timeIntervalSince1970: 1_700_000_000)
        let jwt = try signer.sign(sampleClaims(now: issued, lifetime: 60))
        #expect(try verifier.verify(jwt, now: issued + 59).sub == "CgNqb2USBWxvY2Fs")
        #expect(throws: SigningError.expired) { try verifier.verify(jwt, now: issued + 60) }
    }

    @Test("Private keys round-trip through PKCS#8 PEM", arguments: SigningAlgorithm.allCases)
    func pemRoundTrip(_ algorithm: SigningAlgorithm) throws {
        let stored = try SigningKey.generate(algorithm: algorithm)
        #expect(stored.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        #expect(stored.algorithm == algorithm.name)
        let signer = try TokenSigner(signingKey: stored)
        // The stored JWK (written at generation) verifies what the PEM-parsed key signs.
        let verifier = TokenVerifier(keys: [(stored.kid, algorithm, try PublicJWK(json: stored.publicJWK).makeVerifier())])
        let claims = sampleClaims()
        #expect(try verifier.verify(try signer.sign(claims), now: Date()) == claims)
        #expect(try signer.publicJWK() == PublicJWK(json: stored.publicJWK))
    }

    @Test("Keys refuse the wrong PEM and short RSA keys")
    func badKeys() throws {
        let ecPEM = try SigningKey.generate(algorithm: .es256).privateKeyPEM
        #expect(throws: SigningError.invalidKey("")) { try RSAKey(privateKeyPEM: ecPEM) }
        #expect(throws: SigningError.invalidKey("")) { try RSAKey(privateKeyPEM: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n") }
        #expect(throws: SigningError.invalidKey("")) { try ES256Key(privateKeyPEM: "not a pem") }
        #expect(throws: SigningError.invalidKey("")) { try RSAKey(modulus: [0xC0] + [UInt8](repeating: 1, count: 127), exponent: [1, 0, 1]) }
        #expect(throws: SigningError.keyGenerationFailed("")) { try RSAKey.generate(bits: 1024) }
        #expect(throws: SigningError.algorithmMismatch("")) { try TokenSigner(kid: "x", algorithm: .es256, key: Self.rsa) }
    }

    @Test("Kids are 20 random bytes in lowercase hex, as Dex")
    func kidFormat() throws {
        let a = try SigningKey.generate(algorithm: .es256), b = try SigningKey.generate(algorithm: .es256)
        #expect(a.kid.count == 40)
        #expect(a.kid.allSatisfy { "0123456789abcdef".contains($0) })
        #expect(a.kid != b.kid)
    }

    @Test("Signing runs concurrently from many tasks and every token verifies", arguments: SigningAlgorithm.allCases)
    func concurrentSigning(_ algorithm: SigningAlgorithm) async throws {
        let (signer, verifier) = try pair(algorithm)
        let tokens = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for i in 0..<64 {
                group.addTask {
                    var claims = sampleClaims()
                    claims.sub = "user-\(i)"
                    return (i, try signer.sign(claims))
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        #expect(tokens.count == 64)
        for (i, jwt) in tokens { #expect(try verifier.verify(jwt, now: Date()).sub == "user-\(i)") }
    }

    @Test("RS256 signatures from pooled OpenSSL contexts equal swift-crypto's, on more threads at once than the pool keeps")
    func pooledRSAContexts() throws {
        // RSASSA-PKCS1-v1_5 is deterministic, so an independent implementation must produce the
        // same bytes for every message, whichever pooled (or freshly set up) context signed it.
        let reference = try _RSA.Signing.PrivateKey(pemRepresentation: try Self.rsa.pkcs8PEM())
        let threads = 24, perThread = 3
        let results = Locked<[Int: [UInt8]]>([:])
        let done = DispatchGroup()
        for t in 0..<threads {
            done.enter()
            let thread = Thread {
                for k in 0..<perThread {
                    let index = t * perThread + k
                    if let signature = try? Self.rsa.sign(Array("message \(index)".utf8)) {
                        results.withLock { $0[index] = signature }
                    }
                }
                done.leave()
            }
            thread.start()
        }
        done.wait()
        let signatures = results.withLock { $0 }
        #expect(signatures.count == threads * perThread)
        let differing = try signatures.keys.sorted().filter { index in
            let expected = try reference.signature(for: Data("message \(index)".utf8), padding: .insecurePKCS1v1_5)
            return signatures[index] != Array(expected.rawRepresentation)
        }
        #expect(differing == [], "messages whose signature differs from swift-crypto's")
    }
}

