import Foundation

/// Dex's wire encodings, kept byte-for-byte so `sub` values and refresh tokens survive a migration.
///
/// Dex marshals small protobuf messages (`server/internal/types.proto`) and base64url-encodes
/// them without padding:
/// - `IDTokenSubject { string user_id = 1; string conn_id = 2; }` is the `sub` claim;
/// - `RefreshToken { string refresh_id = 1; string token = 2; }` is the refresh token handed out.
///
/// Both messages are two string fields, so proto3's encoding is fixed: for each non-empty field,
/// the key byte `(field << 3) | 2`, a varint length, then the UTF-8 bytes.
public enum DexEncoding {
    public static func subject(userID: String, connectorID: String) -> String {
        Base64URL.encode(encodeTwoStrings(userID, connectorID))
    }

    public static func decodeSubject(_ sub: String) -> (userID: String, connectorID: String)? {
        guard let data = Base64URL.decode(sub), let (a, b) = decodeTwoStrings([UInt8](data)) else { return nil }
        return (a, b)
    }

    public static func refreshToken(id: String, token: String) -> String {
        Base64URL.encode(encodeTwoStrings(id, token))
    }

    public static func decodeRefreshToken(_ value: String) -> (id: String, token: String)? {
        guard value.utf8.count <= 4096, let data = Base64URL.decode(value),
              let (a, b) = decodeTwoStrings([UInt8](data)) else { return nil }
        return (a, b)
    }

    static func encodeTwoStrings(_ first: String, _ second: String) -> [UInt8] {
        var out = [UInt8]()
        for (field, value) in [(UInt8(1), first), (UInt8(2), second)] where !value.isEmpty {
            out.append((field << 3) | 2)
            var n = value.utf8.count
            while n >= 0x80 {
                out.append(UInt8(n & 0x7f) | 0x80)
                n >>= 7
            }
            out.append(UInt8(n))
            out.append(contentsOf: value.utf8)
        }
        return out
    }

    static func decodeTwoStrings(_ bytes: [UInt8]) -> (String, String)? {
        var fields = ["", ""]
        var i = 0
        while i < bytes.count {
            let key = bytes[i]
            i += 1
            guard key & 7 == 2 else { return nil }
            let field = Int(key >> 3)
            var length = 0
            var shift = 0
            while true {
                guard i < bytes.count, shift < 35 else { return nil }
                let b = bytes[i]
                i += 1
                length |= Int(b & 0x7f) << shift
                if b & 0x80 == 0 { break }
                shift += 7
            }
            guard length <= bytes.count - i else { return nil }
            let value = bytes[i..<(i + length)]
            i += length
            guard field == 1 || field == 2, let s = String(validating: value, as: UTF8.self) else { return nil }
            fields[field - 1] = s
        }
        return (fields[0], fields[1])
    }
}
