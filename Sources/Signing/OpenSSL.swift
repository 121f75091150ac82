import COpenSSL
import Foundation

/// Small helpers around libcrypto calls shared by `RSAKey`. Everything here is thread-safe:
/// OpenSSL keeps its error queue per thread and the objects created are owned by the caller.
enum OpenSSL {
    /// Pops this thread's OpenSSL error queue into one log-safe line (error strings carry no key material).
    static func lastError() -> String {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return messages.isEmpty ? "unknown OpenSSL error" : messages.joined(separator: "; ")
    }

    /// Runs `body` with a read-only memory BIO over `bytes`.
    static func withMemoryBIO<R>(_ bytes: [UInt8], _ body: (OpaquePointer) throws -> R) throws -> R {
        try bytes.withUnsafeBytes { raw in
            guard let count = Int32(exactly: raw.count),
                  let bio = BIO_new_mem_buf(raw.baseAddress, count) else {
                throw SigningError.invalidKey("cannot create OpenSSL memory BIO")
            }
            defer { BIO_free(bio) }
            return try body(bio)
        }
    }

    /// Reads everything pending in a memory BIO.
    static func drain(_ bio: OpaquePointer) throws -> [UInt8] {
        let pending = Int(BIO_ctrl_pending(bio))
        var out = [UInt8](repeating: 0, count: pending)
        let read = out.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32(pending)) }
        guard read == Int32(pending) else { throw SigningError.invalidKey("short read from OpenSSL BIO") }
        return out
    }

    /// Builds an RSA public `EVP_PKEY` from `n` and `e` with `EVP_PKEY_fromdata` (the OpenSSL 3 way;
    /// the `RSA_set0_key` API is deprecated).
    static func rsaPublicKey(modulus: [UInt8], exponent: [UInt8]) throws -> OpaquePointer {
        guard let n = bigNumber(modulus), let e = bigNumber(exponent) else {
            throw SigningError.invalidKey("cannot convert RSA components: \(lastError())")
        }
        defer { BN_free(n); BN_free(e) }
        guard let builder = OSSL_PARAM_BLD_new() else { throw SigningError.invalidKey(lastError()) }
        defer { OSSL_PARAM_BLD_free(builder) }
        // The builder keeps the parameter-name pointers until `to_param`, so they must outlive this
        // call: static strings, never Swift's temporary bridged C strings.
        guard OSSL_PARAM_BLD_push_BN(builder, cString(rsaModulusName), n) == 1,
              OSSL_PARAM_BLD_push_BN(builder, cString(rsaExponentName), e) == 1,
              let params = OSSL_PARAM_BLD_to_param(builder) else {
            throw SigningError.invalidKey("cannot build RSA parameters: \(lastError())")
        }
        defer { OSSL_PARAM_free(params) }
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, "RSA", nil) else { throw SigningError.invalidKey(lastError()) }
        defer { EVP_PKEY_CTX_free(ctx) }
        var pkey: OpaquePointer?
        guard EVP_PKEY_fromdata_init(ctx) == 1,
              EVP_PKEY_fromdata(ctx, &pkey, COPENSSL_EVP_PKEY_PUBLIC_KEY, params) == 1,
              let key = pkey else {
            throw SigningError.invalidKey("cannot build RSA public key: \(lastError())")
        }
        return key
    }

    private static let rsaModulusName: StaticString = "n"  // OSSL_PKEY_PARAM_RSA_N
    private static let rsaExponentName: StaticString = "e"  // OSSL_PKEY_PARAM_RSA_E

    private static func cString(_ s: StaticString) -> UnsafePointer<CChar> {
        UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
    }

    private static func bigNumber(_ bytes: [UInt8]) -> OpaquePointer? {
        bytes.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, Int32($0.count), nil) }
    }
}
