import Foundation
#if canImport(CSysRandom)
import CSysRandom
#endif

/// Random identifiers in Dex's format: 16 random bytes, lowercase base32 without padding,
/// starting with a letter (`storage.NewID`).
public enum IDs {
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)

    public static func newID() -> String {
        while true {
            let id = base32(randomBytes(16))
            // Dex re-draws until the first character is a letter.
            if let first = id.utf8.first, first >= UInt8(ascii: "a"), first <= UInt8(ascii: "z") { return id }
        }
    }

    /// A longer secret value (for refresh token secrets, HMAC keys): 32 random bytes, base64url.
    public static func newSecret(bytes: Int = 32) -> String {
        Base64URL.encode(randomBytes(bytes))
    }

    /// `count` bytes from the kernel's CSPRNG in one `getrandom(2)` call (up to 256 bytes are
    /// never cut short); `SystemRandomNumberGenerator` would make one system call per 8 bytes,
    /// six per refresh grant.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var filled = 0
            #if canImport(CSysRandom)
            while filled < count {
                let got = getrandom(buffer.baseAddress! + filled, count - filled, 0)
                if got > 0 { filled += got } else if got < 0, errno != EINTR { break }
            }
            #endif
            // Without getrandom (another platform, or a kernel before 3.17): the standard
            // library's generator fills the rest.
            var rng = SystemRandomNumberGenerator()
            while filled < count {
                buffer[filled] = UInt8(truncatingIfNeeded: rng.next())
                filled += 1
            }
            initialized = count
        }
    }

    /// RFC 4648 base32, lowercase, no padding.
    public static func base32(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count * 8 + 4) / 5)
        var buffer: UInt32 = 0
        var bits = 0
        for b in bytes {
            buffer = (buffer << 8) | UInt32(b)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[Int((buffer >> UInt32(bits - 5)) & 31)])
                bits -= 5
            }
        }
        if bits > 0 { out.append(alphabet[Int((buffer << UInt32(5 - bits)) & 31)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
