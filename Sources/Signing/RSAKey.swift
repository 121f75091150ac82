import COpenSSL
import Foundation
import JWTKit

/// An RSA key held by the system OpenSSL (libcrypto), usable as jwt-kit's `RS256` algorithm.
///
/// RS256 is RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3). It is signed by the system OpenSSL rather
/// than swift-crypto's BoringSSL because OpenSSL 3 signs RSA-2048 about 2.4× faster on this hardware,
/// and RSA signing is the dominant cost of issuing an ID token.
///
/// The `EVP_PKEY` is parsed once, when the key is loaded, and then only read: OpenSSL 3 allows one
/// `EVP_PKEY` to be used from many threads at once as long as nobody modifies it. Signing contexts
/// (`EVP_PKEY_CTX`, set up once for PKCS#1 v1.5 padding with SHA-256) are kept in a small pool and
/// each is used by one caller at a time: setting one up (`EVP_DigestSignInit`, with OpenSSL 3's
/// provider lookups) cost about 5 µs of each 250 µs signature, which `openssl speed` does not pay.
/// So `sign` is synchronous, holds a lock only to take or return a context, and runs on as many
/// cores as callers use; that is why this is a final class and not an actor.
public final class RSAKey: JWTAlgorithm, @unchecked Sendable {
    /// Keys shorter than this are refused (RFC 7518 §3.3 requires at least 2048 bits).
    public static let minimumBits = 2048

    /// Owned `EVP_PKEY *`; freed in `deinit`, never mutated after `init`.
    private let pkey: OpaquePointer
    /// SHA-256 fetched once (OpenSSL 3 implicit fetches by `EVP_sha256()` cost a lookup per call).
    private let sha256: OpaquePointer
    /// Whether `pkey` holds the private half (keys rebuilt from a JWK only verify).
    public let isPrivate: Bool
    /// Idle signing contexts (owned `EVP_PKEY_CTX *`), each ready for `EVP_PKEY_sign`. Empty
    /// until the first signature; at most `pooledContexts` are kept, freed in `deinit`.
    private let idleContexts = Locked<[OpaquePointer]>([])
    /// More than the cores that sign at once; a context beyond this is freed after use.
    private static let pooledContexts = 16

    /// The JWS `alg` name, as jwt-kit's `JWTAlgorithm` requires.
    public var name: String { SigningAlgorithm.rs256.name }

    private init(taking pkey: OpaquePointer, isPrivate: Bool) throws {
        guard EVP_PKEY_is_a(pkey, "RSA") == 1 else {
            EVP_PKEY_free(pkey)
            throw SigningError.invalidKey("not an RSA key")
        }
        guard EVP_PKEY_get_bits(pkey) >= Self.minimumBits else {
            EVP_PKEY_free(pkey)
            throw SigningError.invalidKey("RSA key shorter than \(Self.minimumBits) bits")
        }
        guard let md = EVP_MD_fetch(nil, "SHA256", nil) else {
            EVP_PKEY_free(pkey)
            throw SigningError.invalidKey("SHA-256 unavailable: \(OpenSSL.lastError())")
        }
        self.pkey = pkey
        self.sha256 = md
        self.isPrivate = isPrivate
    }

    deinit {
        for ctx in idleContexts.withLock({ $0 }) { EVP_PKEY_CTX_free(ctx) }
        EVP_PKEY_free(pkey)
        EVP_MD_free(sha256)
    }

    /// Generates a new RSA key pair with `EVP_PKEY_keygen` (public exponent 65537).
    ///
    /// Takes tens to hundreds of milliseconds; `KeyManager` calls it outside any storage transaction.
    public static func generate(bits: Int = 2048) throws -> RSAKey {
        guard bits >= minimumBits, let bitCount = Int32(exactly: bits) else {
            throw SigningError.keyGenerationFailed("RSA keys must have at least \(minimumBits) bits")
        }
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, "RSA", nil) else {
            throw SigningError.keyGenerationFailed(OpenSSL.lastError())
        }
        defer { EVP_PKEY_CTX_free(ctx) }
        var pkey: OpaquePointer?
        guard EVP_PKEY_keygen_init(ctx) == 1,
              EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bitCount) == 1,
              EVP_PKEY_generate(ctx, &pkey) == 1,
              let generated = pkey
        else {
            throw SigningError.keyGenerationFailed(OpenSSL.lastError())
        }
        return try RSAKey(taking: generated, isPrivate: true)
    }

    /// Parses a private key from PEM (PKCS#8 `PRIVATE KEY`, or the older PKCS#1 `RSA PRIVATE KEY`).
    public convenience init(privateKeyPEM pem: String) throws {
        let pkey: OpaquePointer = try OpenSSL.withMemoryBIO(Array(pem.utf8)) { bio in
            guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else {
                throw SigningError.invalidKey("cannot parse RSA private key PEM: \(OpenSSL.lastError())")
            }
            return key
        }
        try self.init(taking: pkey, isPrivate: true)
    }

    /// Builds a public key from its JWK components (RFC 7518 §6.3.1): big-endian unsigned `n` and `e`.
    public convenience init(modulus: [UInt8], exponent: [UInt8]) throws {
        guard !modulus.isEmpty, !exponent.isEmpty else { throw SigningError.invalidKey("empty RSA modulus or exponent") }
        let pkey = try OpenSSL.rsaPublicKey(modulus: modulus, exponent: exponent)
        try self.init(taking: pkey, isPrivate: false)
    }

    /// The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), the form `SigningKey` stores.
    public func pkcs8PEM() throws -> String {
        guard isPrivate else { throw SigningError.invalidKey("public RSA key has no private PEM") }
        guard let bio = BIO_new(BIO_s_mem()) else { throw SigningError.invalidKey(OpenSSL.lastError()) }
        defer { BIO_free(bio) }
        guard PEM_write_bio_PKCS8PrivateKey(bio, pkey, nil, nil, 0, nil, nil) == 1 else {
            throw SigningError.invalidKey("cannot export PKCS#8: \(OpenSSL.lastError())")
        }
        return String(decoding: try OpenSSL.drain(bio), as: UTF8.self)
    }

    /// The public modulus `n` and exponent `e` as minimal big-endian bytes (for the JWK).
    public func publicComponents() throws -> (modulus: [UInt8], exponent: [UInt8]) {
        (try bigNumberParameter(OSSL_PKEY_PARAM_RSA_N), try bigNumberParameter(OSSL_PKEY_PARAM_RSA_E))
    }

    /// The public JWK (RFC 7517 §4, RFC 7518 §6.3.1) published in `/keys`.
    public func publicJWK(kid: String) throws -> PublicJWK {
        let (n, e) = try publicComponents()
        return PublicJWK(rsaKID: kid, modulus: n, exponent: e)
    }

    private func bigNumberParameter(_ name: String) throws -> [UInt8] {
        var bn: OpaquePointer?
        guard EVP_PKEY_get_bn_param(pkey, name, &bn) == 1, let number = bn else {
            throw SigningError.invalidKey("RSA parameter \(name) unavailable: \(OpenSSL.lastError())")
        }
        defer { BN_free(number) }
        var bytes = [UInt8](repeating: 0, count: Int((BN_num_bits(number) + 7) / 8))
        let written = bytes.withUnsafeMutableBufferPointer { BN_bn2bin(number, $0.baseAddress) }
        return Array(bytes.prefix(Int(written)))
    }

    // MARK: JWTAlgorithm

    /// Signs `plaintext` (the JWS signing input) with RSASSA-PKCS1-v1_5 SHA-256: the SHA-256
    /// digest, then `EVP_PKEY_sign` on a pooled context (what `EVP_DigestSign` does in one call).
    public func sign(_ plaintext: some DataProtocol) throws -> [UInt8] {
        guard isPrivate else { throw SigningError.signingFailed("public RSA key cannot sign") }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var digestLength: UInt32 = 0
        let input = Array(plaintext)
        let hashed = input.withUnsafeBufferPointer { tbs in
            EVP_Digest(tbs.baseAddress, tbs.count, &digest, &digestLength, sha256, nil)
        }
        guard hashed == 1 else { throw SigningError.signingFailed(OpenSSL.lastError()) }
        let ctx = try takeContext()
        var signature = [UInt8](repeating: 0, count: Int(EVP_PKEY_get_size(pkey)))
        var length = signature.count
        let rc = signature.withUnsafeMutableBufferPointer { sig in
            EVP_PKEY_sign(ctx, sig.baseAddress, &length, digest, Int(digestLength))
        }
        guard rc == 1 else {
            // A failed operation may leave the context unusable: drop it rather than pool it.
            EVP_PKEY_CTX_free(ctx)
            throw SigningError.signingFailed(OpenSSL.lastError())
        }
        returnContext(ctx)
        if length < signature.count { signature.removeLast(signature.count - length) }
        return signature
    }

    /// An idle signing context, or a new one set up for RS256.
    private func takeContext() throws -> OpaquePointer {
        if let idle = idleContexts.withLock({ $0.popLast() }) { return idle }
        guard let ctx = EVP_PKEY_CTX_new_from_pkey(nil, pkey, nil) else {
            throw SigningError.signingFailed(OpenSSL.lastError())
        }
        guard EVP_PKEY_sign_init(ctx) == 1,
              EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1,
              EVP_PKEY_CTX_set_signature_md(ctx, sha256) == 1 else {
            EVP_PKEY_CTX_free(ctx)
            throw SigningError.signingFailed(OpenSSL.lastError())
        }
        return ctx
    }

    private func returnContext(_ ctx: OpaquePointer) {
        let kept = idleContexts.withLock { idle -> Bool in
            guard idle.count < Self.pooledContexts else { return false }
            idle.append(ctx)
            return true
        }
        if !kept { EVP_PKEY_CTX_free(ctx) }
    }

    /// Verifies an RS256 signature with `EVP_DigestVerify`; a mismatch returns `false`, not an error.
    public func verify(_ signature: some DataProtocol, signs plaintext: some DataProtocol) throws -> Bool {
        guard let ctx = EVP_MD_CTX_new() else { throw SigningError.signingFailed(OpenSSL.lastError()) }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestVerifyInit(ctx, nil, sha256, nil, pkey) == 1 else {
            throw SigningError.signingFailed(OpenSSL.lastError())
        }
        let sig = Array(signature)
        let input = Array(plaintext)
        let rc = sig.withUnsafeBufferPointer { s in
            input.withUnsafeBufferPointer { tbs in
                EVP_DigestVerify(ctx, s.baseAddress, s.count, tbs.baseAddress, tbs.count)
            }
        }
        if rc != 1 { ERR_clear_error() }  // a bad signature queues an error on this thread; drop it
        return rc == 1
    }
}
