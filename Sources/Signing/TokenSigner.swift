import FedgateCore
import Foundation
import JWTKit
import Storage

/// Signs JWTs with one private key: jwt-kit encodes the claims (JSON + base64url) and the key's
/// `JWTAlgorithm` (`RSAKey` through OpenSSL, or `ES256Key` through swift-crypto) makes the signature.
///
/// This is the hot path of every token response, so it is a plain `Sendable` value with no actor and
/// no lock: the key is parsed once when the signer is built, the protected header is encoded once,
/// and any number of tasks may call `sign` at the same time on all cores.
public struct TokenSigner: Sendable {
    /// The `kid` header value, naming the published JWK that verifies these tokens.
    public let kid: String
    public let algorithm: SigningAlgorithm
    /// The parsed private key.
    public let key: any JWTAlgorithm
    /// `base64url(header JSON) + "."`, prepared once (RFC 7515 §7.1).
    private let encodedHeaderAndDot: [UInt8]
    private let serializer = DefaultJWTSerializer(jsonEncoder: ClaimsJSONEncoder())

    /// Wraps an already parsed key.
    public init(kid: String, algorithm: SigningAlgorithm, key: any JWTAlgorithm) throws {
        guard key.name == algorithm.name else {
            throw SigningError.algorithmMismatch("key is \(key.name), signer configured for \(algorithm.name)")
        }
        self.kid = kid
        self.algorithm = algorithm
        self.key = key
        let header: JWTHeader = ["alg": .string(algorithm.name), "kid": .string(kid), "typ": .string("JWT")]
        let headerJSON = try PublicJWK.encoder.encode(header)
        self.encodedHeaderAndDot = Array(Base64URL.encode(headerJSON).utf8) + [UInt8(ascii: ".")]
    }

    /// Parses a stored key pair (PKCS#8 PEM), once.
    public init(signingKey: SigningKey) throws {
        guard let algorithm = SigningAlgorithm(rawValue: signingKey.algorithm) else {
            throw SigningError.unsupportedAlgorithm(signingKey.algorithm)
        }
        let key: any JWTAlgorithm
        switch algorithm {
        case .rs256: key = try RSAKey(privateKeyPEM: signingKey.privateKeyPEM)
        case .es256: key = try ES256Key(privateKeyPEM: signingKey.privateKeyPEM)
        }
        try self.init(kid: signingKey.kid, algorithm: algorithm, key: key)
    }

    /// The public JWK matching this signer's key.
    public func publicJWK() throws -> PublicJWK {
        switch key {
        case let rsa as RSAKey: return try rsa.publicJWK(kid: kid)
        case let ec as ES256Key: return ec.publicJWK(kid: kid)
        default: throw SigningError.unsupportedAlgorithm(key.name)
        }
    }

    /// Signs `claims` as a compact JWS (RFC 7515 §7.1). Synchronous and safe to call concurrently.
    public func sign(_ claims: some JWTPayload) throws -> String {
        let encodedPayload: Data
        do {
            encodedPayload = try serializer.serialize(claims, header: JWTHeader())
        } catch {
            throw SigningError.signingFailed("cannot encode claims: \(error)")
        }
        var token = encodedHeaderAndDot
        token.reserveCapacity(token.count + encodedPayload.count + 1 + 512)
        token.append(contentsOf: encodedPayload)
        let signature = try key.sign(token)
        token.append(UInt8(ascii: "."))
        token.append(contentsOf: Base64URL.encode(signature).utf8)
        return String(decoding: token, as: UTF8.self)
    }
}

/// jwt-kit's payload encoder with `TokenClaims` written by `TokenClaims.jsonBytes()`; any other
/// payload goes through jwt-kit's default `JSONEncoder`.
struct ClaimsJSONEncoder: JWTJSONEncoder {
    private let fallback: any JWTJSONEncoder = .defaultForJWT

    func encode<T: Encodable>(_ value: T) throws -> Data {
        if let claims = value as? TokenClaims { return Data(try claims.jsonBytes()) }
        return try fallback.encode(value)
    }
}
