import Foundation
import JWTKit
import Logging
import Storage

/// An immutable view of the published key set, rebuilt only when storage changes.
///
/// Request handlers take `KeyManager.snapshot` once and use it without further locking: the signer and
/// verifier hold parsed keys, and `jwksJSON` is the `/keys` body prepared once per change
/// (`{"keys":[signing, next, retired...]}`, RFC 7517 §5).
public final class KeySnapshot: Sendable {
    /// Signs new tokens; nil until a signing key exists.
    public let signer: TokenSigner?
    /// The algorithm `sign` uses: the signer's, or the configured one before any key exists.
    /// Hash `at_hash`/`c_hash` with this (OIDC Core §3.1.3.6) from the same snapshot that signs.
    public let algorithm: SigningAlgorithm
    /// Accepts tokens from every published key: the signing key, the pre-published next key and
    /// retired keys whose tokens may still be live.
    public let verifier: TokenVerifier
    /// The JWKS document served at `/keys`.
    public let jwksJSON: [UInt8]
    /// When the signing key is next due to rotate (relying parties may cache `/keys` until then).
    public let nextRotation: Date
    /// The published `kid`s in `jwksJSON` order.
    public let publishedKIDs: [String]
    /// The storage value this snapshot was built from (to skip rebuilding when nothing changed).
    let keys: Keys
    private let now: @Sendable () -> Date

    init(signer: TokenSigner?, algorithm: SigningAlgorithm, verifier: TokenVerifier, jwksJSON: [UInt8],
         nextRotation: Date, publishedKIDs: [String], keys: Keys, now: @escaping @Sendable () -> Date) {
        self.signer = signer; self.algorithm = signer?.algorithm ?? algorithm; self.verifier = verifier; self.jwksJSON = jwksJSON; self.nextRotation = nextRotation
        self.publishedKIDs = publishedKIDs; self.keys = keys; self.now = now
    }

    /// Builds a snapshot, parsing each PEM and JWK once.
    ///
    /// A signing or next key that does not parse is an error (tokens cannot be issued, or would be
    /// signed by a key nobody can verify). A retired key that does not parse is skipped and logged, so
    /// one corrupt old entry cannot take token issuance down.
    /// - Parameter algorithm: reported as `algorithm` when `keys` has no signing key yet.
    public convenience init(keys: Keys, algorithm: SigningAlgorithm = .rs256, logger: Logger,
                            now: @escaping @Sendable () -> Date = Date.init) throws {
        var jwks: [PublicJWK] = []
        var verifiers: [(kid: String, algorithm: SigningAlgorithm, key: any JWTAlgorithm)] = []
        var signer: TokenSigner?
        for (role, stored) in [("signing", keys.signingKey), ("next", keys.nextSigningKey)] {
            guard let stored else { continue }
            let parsed = try TokenSigner(signingKey: stored)
            jwks.append(try parsed.publicJWK())
            verifiers.append((parsed.kid, parsed.algorithm, parsed.key))
            if role == "signing" { signer = parsed }
        }
        for retired in keys.verificationKeys {
            do {
                let jwk = try PublicJWK(json: retired.publicJWK)
                guard jwk.kid == retired.kid, let algorithm = jwk.algorithm else {
                    throw SigningError.invalidKey("JWK kid or alg does not match the stored key")
                }
                verifiers.append((retired.kid, algorithm, try jwk.makeVerifier()))
                jwks.append(jwk)
            } catch {
                logger.warning("skipping unusable verification key", metadata: ["kid": "\(retired.kid)", "error": "\(error)"])
            }
        }
        let document = try PublicJWK.encoder.encode(["keys": jwks])
        self.init(signer: signer, algorithm: algorithm, verifier: TokenVerifier(keys: verifiers), jwksJSON: Array(document),
                  nextRotation: keys.nextRotation, publishedKIDs: jwks.map(\.kid), keys: keys, now: now)
    }

    /// A snapshot with no keys: `sign` throws `SigningError.noSigningKey`, `verify` rejects everything.
    public static func empty(algorithm: SigningAlgorithm = .rs256, now: @escaping @Sendable () -> Date = Date.init) -> KeySnapshot {
        KeySnapshot(signer: nil, algorithm: algorithm, verifier: TokenVerifier(keys: []), jwksJSON: Array(#"{"keys":[]}"#.utf8),
                    nextRotation: Date(timeIntervalSince1970: 0), publishedKIDs: [], keys: Keys(), now: now)
    }

    /// Signs ID or access token claims with the current signing key. Safe to call concurrently.
    public func sign(_ claims: TokenClaims) throws -> String {
        guard let signer else { throw SigningError.noSigningKey }
        return try signer.sign(claims)
    }

    /// Verifies a token signed by any published key and checks `exp` against the manager's clock.
    public func verify(_ jwt: String) throws -> TokenClaims {
        try verifier.verify(jwt, now: now())
    }
}
