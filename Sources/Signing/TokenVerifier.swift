import FedgateCore
import Foundation
import JWTKit

/// Verifies JWTs signed by any key Fedgate publishes, by `kid`.
///
/// The token's header only *selects* a key; the key decides the algorithm (RFC 8725 §3.1), so a token
/// whose `alg` differs from its key's (e.g. `none`, or `HS256` keyed with an RSA public key) is rejected
/// before any signature check. The signature is checked before the claims are decoded. Immutable and
/// `Sendable`: verification runs concurrently without locks.
public struct TokenVerifier: Sendable {
    struct Entry: Sendable {
        let algorithm: SigningAlgorithm
        let key: any JWTAlgorithm
    }

    private let entries: [String: Entry]
    private let decoder: any JWTJSONDecoder = .defaultForJWT

    /// - Parameter keys: verification keys by `kid`; later duplicates of a `kid` are ignored.
    public init(keys: [(kid: String, algorithm: SigningAlgorithm, key: any JWTAlgorithm)]) {
        var entries: [String: Entry] = [:]
        for k in keys where entries[k.kid] == nil { entries[k.kid] = Entry(algorithm: k.algorithm, key: k.key) }
        self.entries = entries
    }

    /// The key IDs this verifier accepts.
    public var kids: Set<String> { Set(entries.keys) }

    /// Verifies signature, `kid` and `alg`, then `exp` against `now`. Issuer and audience are the caller's.
    public func verify(_ jwt: String, now: Date) throws -> TokenClaims {
        let claims = try verifySignature(jwt, as: TokenClaims.self)
        try claims.verifyNotExpired(at: now)
        return claims
    }

    /// Verifies signature, `kid` and `alg` and decodes the payload, without checking any claim.
    public func verifySignature<Payload: JWTPayload>(_ jwt: String, as _: Payload.Type = Payload.self) throws -> Payload {
        let token = Array(jwt.utf8)
        guard let first = token.firstIndex(of: UInt8(ascii: ".")),
              let second = token[(first + 1)...].firstIndex(of: UInt8(ascii: ".")),
              !token[(second + 1)...].contains(UInt8(ascii: "."))
        else { throw SigningError.malformedToken("not a compact JWS with three parts") }

        let header = try decodeHeader(token[..<first])
        if header.fields["crit"] != nil {
            // RFC 7515 §4.1.11: unknown critical extensions must be rejected; Fedgate understands none.
            throw SigningError.malformedToken("unsupported crit header")
        }
        guard let kid = header.kid, let entry = entries[kid] else {
            throw SigningError.unknownKey("token kid is missing or not published")
        }
        guard let alg = header.alg, alg == entry.algorithm.name else {
            throw SigningError.algorithmMismatch("token alg does not match key \(kid) (\(entry.algorithm.name))")
        }
        guard let signature = Base64URL.decode(String(decoding: token[(second + 1)...], as: UTF8.self)) else {
            throw SigningError.malformedToken("signature is not base64url")
        }
        guard try entry.key.verify(signature, signs: token[..<second]) else { throw SigningError.invalidSignature }

        guard let payload = Base64URL.decode(String(decoding: token[(first + 1)..<second], as: UTF8.self)) else {
            throw SigningError.malformedToken("payload is not base64url")
        }
        do {
            return try decoder.decode(Payload.self, from: payload)
        } catch {
            throw SigningError.malformedToken("claims do not decode: \(error)")
        }
    }

    private func decodeHeader(_ bytes: ArraySlice<UInt8>) throws -> JWTHeader {
        guard let json = Base64URL.decode(String(decoding: bytes, as: UTF8.self)),
              let header = try? decoder.decode(JWTHeader.self, from: json)
        else { throw SigningError.malformedToken("header is not base64url JSON") }
        return header
    }
}
