import Foundation

/// The JWS algorithms Fedgate signs with (RFC 7518 §3.1), matching Dex's `signer.config.algorithm`.
///
/// RS256 stays the default because every OIDC relying party must support it (OIDC Core §15.1);
/// ES256 is roughly ten times cheaper to sign and is offered for deployments whose clients accept it.
public enum SigningAlgorithm: String, Sendable, Codable, CaseIterable {
    /// RSASSA-PKCS1-v1_5 with SHA-256 over an RSA-2048 key, signed by the system OpenSSL.
    case rs256 = "RS256"
    /// ECDSA P-256 with SHA-256, signed by swift-crypto.
    case es256 = "ES256"

    /// The JWS `alg` header value.
    public var name: String { rawValue }
}
