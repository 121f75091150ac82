import FedgateCore
import Foundation
import JWTKit

/// A public JSON Web Key as published in `/keys` (RFC 7517 §4) and stored in `SigningKey.publicJWK`.
///
/// Only the members Fedgate emits: `kty`, `use`, `alg`, `kid`, plus `n`/`e` for RSA (RFC 7518 §6.3.1)
/// or `crv`/`x`/`y` for P-256 (RFC 7518 §6.2.1). Binary members are base64url without padding, and
/// `n` has no leading zero octets. Absent members are omitted from the JSON.
public struct PublicJWK: Codable, Sendable, Equatable {
    public var kty: String
    public var use: String?
    public var alg: String?
    public var kid: String
    public var n: String?
    public var e: String?
    public var crv: String?
    public var x: String?
    public var y: String?

    /// An RS256 verification key from its big-endian modulus and exponent.
    public init(rsaKID kid: String, modulus: [UInt8], exponent: [UInt8]) {
        self.kty = "RSA"; self.use = "sig"; self.alg = SigningAlgorithm.rs256.name; self.kid = kid
        self.n = Base64URL.encode(modulus.drop { $0 == 0 })
        self.e = Base64URL.encode(exponent.drop { $0 == 0 })
    }

    /// An ES256 verification key from its 32-byte affine coordinates.
    public init(ecKID kid: String, x: [UInt8], y: [UInt8]) {
        self.kty = "EC"; self.use = "sig"; self.alg = SigningAlgorithm.es256.name; self.kid = kid
        self.crv = "P-256"; self.x = Base64URL.encode(x); self.y = Base64URL.encode(y)
    }

    /// Decodes a stored JWK JSON document.
    public init(json: String) throws {
        do {
            self = try JSONDecoder().decode(PublicJWK.self, from: Data(json.utf8))
        } catch {
            throw SigningError.invalidKey("stored JWK is not valid JSON: \(error)")
        }
    }

    /// The JSON text (keys sorted, so equal keys always serialise identically).
    public func jsonString() throws -> String {
        String(decoding: try Self.encoder.encode(self), as: UTF8.self)
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// The signing algorithm this key is for. RFC 7517 makes `alg` optional; Fedgate always writes it,
    /// and infers it from `kty`/`crv` for keys that lack it, so one key can never serve two algorithms.
    public var algorithm: SigningAlgorithm? {
        if let alg { return SigningAlgorithm(rawValue: alg) }
        switch (kty, crv) {
        case ("RSA", _): return .rs256
        case ("EC", "P-256"): return .es256
        default: return nil
        }
    }

    /// Builds the verification half of this key as a jwt-kit algorithm.
    public func makeVerifier() throws -> any JWTAlgorithm {
        if let use, use != "sig" { throw SigningError.invalidKey("JWK \(kid) is not a signature key (use=\(use))") }
        switch algorithm {
        case .rs256:
            guard kty == "RSA", let n = n.flatMap(Base64URL.decode), let e = e.flatMap(Base64URL.decode) else {
                throw SigningError.invalidKey("RSA JWK \(kid) lacks valid n/e")
            }
            return try RSAKey(modulus: Array(n), exponent: Array(e))
        case .es256:
            guard kty == "EC", crv == "P-256", let x = x.flatMap(Base64URL.decode), let y = y.flatMap(Base64URL.decode) else {
                throw SigningError.invalidKey("EC JWK \(kid) lacks valid P-256 x/y")
            }
            return try ES256Key(x: Array(x), y: Array(y))
        case nil:
            throw SigningError.unsupportedAlgorithm(alg ?? kty)
        }
    }
}
