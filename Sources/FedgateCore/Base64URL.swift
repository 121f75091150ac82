import Foundation

/// base64url without padding (RFC 4648 §5), as Go's `base64.RawURLEncoding`.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Encodes in one pass over the bytes (an at_hash, a subject and a refresh token on every
    /// grant; `PrimitiveTests` compares it with Foundation's encoder for every length).
    public static func encode<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        if let encoded = bytes.withContiguousStorageIfAvailable({ encode(buffer: $0) }) { return encoded }
        return Array(bytes).withUnsafeBufferPointer { encode(buffer: $0) }
    }

    private static func encode(buffer bytes: UnsafeBufferPointer<UInt8>) -> String {
        let count = (bytes.count * 4 + 2) / 3
        return alphabet.withUnsafeBufferPointer { alphabet in
            String(unsafeUninitializedCapacity: count) { out in
                var i = 0, o = 0
                while i + 3 <= bytes.count {
                    let word = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
                    out[o] = alphabet[Int(word >> 18)]
                    out[o + 1] = alphabet[Int(word >> 12 & 63)]
                    out[o + 2] = alphabet[Int(word >> 6 & 63)]
                    out[o + 3] = alphabet[Int(word & 63)]
                    i += 3
                    o += 4
                }
                switch bytes.count - i {
                case 1:
                    let word = UInt32(bytes[i]) << 16
                    out[o] = alphabet[Int(word >> 18)]
                    out[o + 1] = alphabet[Int(word >> 12 & 63)]
                    o += 2
                case 2:
                    let word = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
                    out[o] = alphabet[Int(word >> 18)]
                    out[o + 1] = alphabet[Int(word >> 12 & 63)]
                    out[o + 2] = alphabet[Int(word >> 6 & 63)]
                    o += 3
                default:
                    break
                }
                return o
            }
        }
    }

    /// Decodes base64url with or without padding characters left off (padding itself is refused,
    /// as Go's `RawURLEncoding` does). One pass over the bytes: no Foundation string operations,
    /// this runs on every refresh grant.
    public static func decode(_ string: String) -> Data? {
        var bytes = [UInt8]()
        bytes.reserveCapacity(string.utf8.count + 3)
        for c in string.utf8 {
            switch c {
            case UInt8(ascii: "-"): bytes.append(UInt8(ascii: "+"))
            case UInt8(ascii: "_"): bytes.append(UInt8(ascii: "/"))
            case UInt8(ascii: "="): return nil
            default: bytes.append(c)
            }
        }
        switch bytes.count % 4 {
        case 1: return nil
        case 2: bytes.append(contentsOf: [UInt8(ascii: "="), UInt8(ascii: "=")])
        case 3: bytes.append(UInt8(ascii: "="))
        default: break
        }
        return Data(base64Encoded: Data(bytes))
    }
}
