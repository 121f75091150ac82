import Foundation

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

    /// Draws 8 bytes per call to the system generator (one `getrandom` per byte showed up in
    /// profiles of the token path).
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var rng = SystemRandomNumberGenerator()
        var out = [UInt8]()
        out.reserveCapacity(count)
        while out.count < count {
            var word = rng.next()
            for _ in 0..<min(8, count - out.count) {
                out.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        return out
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
