import Crypto
import Foundation
import JWTKit

/// A P-256 key held by swift-crypto, usable as jwt-kit's `ES256` algorithm (RFC 7518 §3.4).
///
/// jwt-kit's own `ES256PrivateKey` is the same swift-crypto `P256` key, but its `JWTAlgorithm`
/// conformance is internal to jwt-kit, so this type adopts the protocol itself. Signatures are the
/// 64-byte `R || S` form JWS requires, not DER. A value type with immutable keys: safe to use from any
/// number of threads at once.
public struct ES256Key: JWTAlgorithm {
    private let privateKey: P256.Signing.PrivateKey?
    /// The public half, always present.
    public let publicKey: P256.Signing.PublicKey

    /// The JWS `alg` name, as jwt-kit's `JWTAlgorithm` requires.
    public var name: String { SigningAlgorithm.es256.name }

    /// Whether this key can sign (keys rebuilt from a JWK only verify).
    public var isPrivate: Bool { privateKey != nil }

    /// Generates a new key pair from the system CSPRNG.
    public static func generate() -> ES256Key { ES256Key(privateKey: P256.Signing.PrivateKey()) }

    private init(privateKey: P256.Signing.PrivateKey) {
        self.privateKey = privateKey
        self.publicKey = privateKey.publicKey
    }

    /// Parses a private key from PEM (PKCS#8 `PRIVATE KEY` or SEC 1 `EC PRIVATE KEY`).
    public init(privateKeyPEM pem: String) throws {
        do {
            self.init(privateKey: try P256.Signing.PrivateKey(pemRepresentation: pem))
        } catch {
            throw SigningError.invalidKey("cannot parse P-256 private key PEM")
        }
    }

    /// Builds a public key from its JWK coordinates (RFC 7518 §6.2.1: 32-byte big-endian `x` and `y`).
    public init(x: [UInt8], y: [UInt8]) throws {
        guard x.count == 32, y.count == 32 else { throw SigningError.invalidKey("P-256 coordinates must be 32 bytes") }
        do {
            self.publicKey = try P256.Signing.PublicKey(rawRepresentation: x + y)
        } catch {
            throw SigningError.invalidKey("point is not on P-256")
        }
        self.privateKey = nil
    }

    /// The private key as PKCS#8 PEM, the form `SigningKey` stores.
    public func pkcs8PEM() throws -> String {
        guard let privateKey else { throw SigningError.invalidKey("public P-256 key has no private PEM") }
        return privateKey.pemRepresentation
    }

    /// The public JWK (RFC 7518 §6.2.1) published in `/keys`.
    public func publicJWK(kid: String) -> PublicJWK {
        let raw = Array(publicKey.rawRepresentation)  // x || y
        return PublicJWK(ecKID: kid, x: Array(raw.prefix(32)), y: Array(raw.suffix(32)))
    }

    // MARK: JWTAlgorithm

    public func sign(_ plaintext: some DataProtocol) throws -> [UInt8] {
        guard let privateKey else { throw SigningError.signingFailed("public P-256 key cannot sign") }
        do {
            return Array(try privateKey.signature(for: plaintext).rawRepresentation)
        } catch {
            throw SigningError.signingFailed("P-256 signing failed")
        }
    }

    public func verify(_ signature: some DataProtocol, signs plaintext: some DataProtocol) throws -> Bool {
        guard signature.count == 64,
              let parsed = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
        return publicKey.isValidSignature(parsed, for: plaintext)
    }
}
