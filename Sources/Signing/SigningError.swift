import Foundation

/// Errors from key handling, token signing and token verification.
///
/// An open struct over a private code (as jwt-kit's `JWTError` and `StorageError`), so new cases do not
/// break callers; two errors are equal when their codes are, which keeps tests simple. `reason` is for
/// logs and never contains key material or the token itself.
public struct SigningError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Code: Sendable, Equatable {
        case malformedToken, unknownKey, algorithmMismatch, invalidSignature, expired
        case invalidKey, keyGenerationFailed, signingFailed, noSigningKey, unsupportedAlgorithm
    }

    private let code: Code
    /// A human-readable explanation, safe to log.
    public let reason: String

    private init(_ code: Code, _ reason: String) { self.code = code; self.reason = reason }

    /// The token is not a compact JWS, or its header or claims do not decode.
    public static func malformedToken(_ reason: String) -> SigningError { SigningError(.malformedToken, reason) }
    /// The token's `kid` is missing or names no published key.
    public static func unknownKey(_ reason: String) -> SigningError { SigningError(.unknownKey, reason) }
    /// The token's `alg` is not the algorithm of the key it names (RFC 8725 §3.1: never let the token pick).
    public static func algorithmMismatch(_ reason: String) -> SigningError { SigningError(.algorithmMismatch, reason) }
    /// The signature does not verify.
    public static let invalidSignature = SigningError(.invalidSignature, "signature verification failed")
    /// `exp` is in the past (RFC 7519 §4.1.4).
    public static let expired = SigningError(.expired, "token expired")
    /// A stored or supplied key cannot be parsed or is unsuitable (wrong type, too short).
    public static func invalidKey(_ reason: String) -> SigningError { SigningError(.invalidKey, reason) }
    /// The crypto library could not generate a key.
    public static func keyGenerationFailed(_ reason: String) -> SigningError { SigningError(.keyGenerationFailed, reason) }
    /// The crypto library failed to produce a signature.
    public static func signingFailed(_ reason: String) -> SigningError { SigningError(.signingFailed, reason) }
    /// No signing key is loaded yet (`KeyManager.start()` has not completed).
    public static let noSigningKey = SigningError(.noSigningKey, "no signing key loaded")
    /// A JWS algorithm this module does not implement.
    public static func unsupportedAlgorithm(_ name: String) -> SigningError {
        SigningError(.unsupportedAlgorithm, "unsupported algorithm \(name)")
    }

    public static func == (a: SigningError, b: SigningError) -> Bool { a.code == b.code }
    public var description: String { "signing: \(reason)" }
}
