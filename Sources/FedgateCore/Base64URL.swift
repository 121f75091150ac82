import Foundation

/// base64url without padding (RFC 4648 §5), as Go's `base64.RawURLEncoding`.
public enum Base64URL {
    /// One pass over Foundation's base64 output, mapping `+/` to `-_` and dropping padding.
    public static func encode<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        let standard = Data(bytes).base64EncodedData()
        var out = [UInt8]()
        out.reserveCapacity(standard.count)
        for c in standard {
            switch c {
            case UInt8(ascii: "+"): out.append(UInt8(ascii: "-"))
            case UInt8(ascii: "/"): out.append(UInt8(ascii: "_"))
            case UInt8(ascii: "="): continue
            default: out.append(c)
            }
        }
        return String(decoding: out, as: UTF8.self)
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
