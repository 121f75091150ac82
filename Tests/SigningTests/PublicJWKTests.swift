import FedgateCore
import Foundation
import JWTKit
import Signing
import Storage
import Testing

@Suite("Published JWKs and the JWKS document")
struct PublicJWKTests {
    func jwkObject(_ key: SigningKey) throws -> [String: String] {
        try #require(try JSONSerialization.jsonObject(with: Data(key.publicJWK.utf8)) as? [String: String])
    }

    func isUnpaddedBase64URL(_ s: String) -> Bool {
        !s.isEmpty && s.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
    }

    @Test("An RSA JWK is {kty, use, alg, kid, n, e} with unpadded base64url n and e")
    func rsaShape() throws {
        let key = try SigningKey.generate(algorithm: .rs256)
        let jwk = try jwkObject(key)
        #expect(Set(jwk.keys) == ["kty", "use", "alg", "kid", "n", "e"])
        #expect(jwk["kty"] == "RSA" && jwk["use"] == "sig" && jwk["alg"] == "RS256" && jwk["kid"] == key.kid)
        let n = try #require(jwk["n"]), e = try #require(jwk["e"])
        #expect(isUnpaddedBase64URL(n) && isUnpaddedBase64URL(e))
        #expect(e == "AQAB")
        let modulus = try #require(Base64URL.decode(n))
        #expect(modulus.count == 256)
        #expect(modulus.first! & 0x80 != 0)  // minimal big-endian: a 2048-bit modulus has its top bit set
    }

    @Test("An EC JWK is {kty, crv, x, y, use, alg, kid} with 32-byte coordinates")
    func ecShape() throws {
        let key = try SigningKey.generate(algorithm: .es256)
        let jwk = try jwkObject(key)
        #expect(Set(jwk.keys) == ["kty", "crv", "x", "y", "use", "alg", "kid"])
        #expect(jwk["kty"] == "EC" && jwk["crv"] == "P-256" && jwk["use"] == "sig" && jwk["alg"] == "ES256")
        for coordinate in ["x", "y"] {
            let value = try #require(jwk[coordinate])
            #expect(isUnpaddedBase64URL(value))
            #expect(Base64URL.decode(value)?.count == 32)
        }
    }

    @Test("jwt-kit, given only our published JWKS, verifies the tokens we sign", arguments: SigningAlgorithm.allCases)
    func jwtKitInterop(_ algorithm: SigningAlgorithm) async throws {
        let signing = try SigningKey.generate(algorithm: algorithm)
        let next = try SigningKey.generate(algorithm: algorithm)
        let snapshot = try KeySnapshot(keys: Keys(signingKey: signing, nextSigningKey: next), logger: quietLogger)
        let claims = sampleClaims()
        let jwt = try snapshot.sign(claims)

        let collection = JWTKeyCollection()
        try await collection.add(jwksJSON: String(decoding: snapshot.jwksJSON, as: UTF8.self))
        let verified = try await collection.verify(jwt, as: TokenClaims.self)
        #expect(verified == claims)

        // jwt-kit also rejects a tampered token against the same JWKS.
        var forged = claims
        forged.sub = "someone-else"
        let tampered = replacingSegment(1, of: jwt, with: Base64URL.encode(try JSONEncoder().encode(forged)))
        await #expect(throws: (any Error).self) { _ = try await collection.verify(tampered, as: TokenClaims.self) }
    }

    @Test("The JWKS lists signing, next, then retired keys; a retired key's stored JWK verifies its old tokens")
    func jwksOrder() throws {
        let old = try SigningKey.generate(algorithm: .rs256)
        let oldToken = try TokenSigner(signingKey: old).sign(sampleClaims())
        let signing = try SigningKey.generate(algorithm: .es256)
        let next = try SigningKey.generate(algorithm: .es256)
        let keys = Keys(signingKey: signing, nextSigningKey: next,
                        verificationKeys: [VerificationKey(kid: old.kid, publicJWK: old.publicJWK, expiry: Date() + 3600)])
        let snapshot = try KeySnapshot(keys: keys, logger: quietLogger)
        #expect(snapshot.publishedKIDs == [signing.kid, next.kid, old.kid])
        let document = try #require(try JSONSerialization.jsonObject(with: Data(snapshot.jwksJSON)) as? [String: [[String: String]]])
        #expect(document["keys"]?.map { $0["kid"] } == [signing.kid, next.kid, old.kid])
        #expect(document["keys"]?.map { $0["alg"] } == ["ES256", "ES256", "RS256"])
        #expect(try snapshot.verify(oldToken).sub == "CgNqb2USBWxvY2Fs")
    }

    @Test("A corrupt retired key is skipped; a corrupt signing key is an error")
    func corruptKeys() throws {
        let signing = try SigningKey.generate(algorithm: .es256)
        let broken = VerificationKey(kid: "old", publicJWK: #"{"kty":"RSA","kid":"old","n":"!!","e":"AQAB"}"#, expiry: Date() + 60)
        let snapshot = try KeySnapshot(keys: Keys(signingKey: signing, verificationKeys: [broken]), logger: quietLogger)
        #expect(snapshot.publishedKIDs == [signing.kid])

        var corrupt = signing
        corrupt.privateKeyPEM = "garbage"
        #expect(throws: SigningError.invalidKey("")) { try KeySnapshot(keys: Keys(signingKey: corrupt), logger: quietLogger) }
    }

    @Test("An empty snapshot cannot sign and publishes an empty key set")
    func emptySnapshot() throws {
        let snapshot = KeySnapshot.empty()
        #expect(String(decoding: snapshot.jwksJSON, as: UTF8.self) == #"{"keys":[]}"#)
        #expect(throws: SigningError.noSigningKey) { try snapshot.sign(sampleClaims()) }
    }
}
