import Foundation

/// One directory entry as a search returned it: its DN and the attribute values, kept as raw
/// bytes so binary attributes (Active Directory's `objectGUID`, `objectSid`) are never mangled
/// by a text conversion.
public struct LDAPEntry: Sendable, Equatable {
    public var dn: String
    /// Keyed by the lowercased attribute name: LDAP attribute names are case-insensitive
    /// (RFC 4512 §2.5), and servers may answer `memberof` for a requested `memberOf`.
    private var values: [String: [[UInt8]]]

    public init(dn: String, attributes: [String: [[UInt8]]] = [:]) {
        self.dn = dn
        self.values = [:]
        for (name, list) in attributes { self.values[name.lowercased(), default: []] += list }
    }

    /// Attribute names present on the entry (lowercased).
    public var attributeNames: [String] { values.keys.sorted() }

    /// The raw values of `name`. `DN` (any case) is the entry's DN when the entry has no real
    /// attribute of that name, as in Dex (`getAttrs`).
    public func rawValues(_ name: String) -> [[UInt8]] {
        let key = name.lowercased()
        if let found = values[key] { return found }
        if key == "dn" { return [Array(dn.utf8)] }
        return []
    }

    /// The values of `name` as text. Values that are not valid UTF-8, and every value of a
    /// known binary attribute, are encoded with `binaryEncoding` so they stay stable and printable.
    public func strings(_ name: String, binaryEncoding: LDAPBinaryEncoding = .base64) -> [String] {
        let binary = LDAPBinaryEncoding.isBinaryAttribute(name)
        return rawValues(name).map { bytes in
            if !binary, let text = String(validating: bytes, as: UTF8.self) { return text }
            return binaryEncoding.encode(bytes)
        }
    }

    /// The first value of `name` as text, or "" (Dex's `getAttr`).
    public func string(_ name: String, binaryEncoding: LDAPBinaryEncoding = .base64) -> String {
        strings(name, binaryEncoding: binaryEncoding).first ?? ""
    }
}

/// How a binary attribute value becomes text in an identity (Fedgate's
/// `userSearch.binaryIDEncoding`). Dex hands the raw bytes of `objectGUID` to Go's string type,
/// which breaks token encoding for most GUIDs; Fedgate encodes them instead.
public enum LDAPBinaryEncoding: String, Sendable, Codable, CaseIterable {
    /// Standard base64 with padding, as LDIF (`objectGUID:: ...`) and Go's JSON show bytes.
    case base64
    /// Lowercase hex of the bytes in wire order.
    case hex

    /// Attributes whose syntax is binary (OCTET STRING) in Active Directory and that are commonly
    /// chosen as stable user ids; they are always encoded, even when the bytes happen to be UTF-8.
    static let binaryAttributes: Set<String> = ["objectguid", "objectsid", "ms-ds-consistencyguid", "msds-consistencyguid"]

    static func isBinaryAttribute(_ name: String) -> Bool {
        let lowered = name.lowercased()
        return binaryAttributes.contains(lowered) || lowered.hasSuffix(";binary")
    }

    public func encode(_ bytes: [UInt8]) -> String {
        switch self {
        case .base64:
            return Data(bytes).base64EncodedString()
        case .hex:
            let digits = Array("0123456789abcdef")
            var out = ""
            out.reserveCapacity(bytes.count * 2)
            for byte in bytes {
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0x0F)])
            }
            return out
        }
    }
}

/// The distinguished-name handling the connector needs: the first RDN's value (a group's `cn`
/// from a `memberOf` value) and suffix checks (is this DN under the configured base DN?).
enum LDAPDN {
    /// Splits a string DN (RFC 4514) into its RDNs, honouring `\` escapes and quoted values.
    static func rdns(_ dn: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var escaped = false
        var quoted = false
        for character in dn {
            if escaped {
                current.append(character)
                escaped = false
                continue
            }
            switch character {
            case "\\":
                current.append(character)
                escaped = true
            case "\"":
                current.append(character)
                quoted.toggle()
            case "," where !quoted, ";" where !quoted:
                parts.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            default:
                current.append(character)
            }
        }
        let last = current.trimmingCharacters(in: .whitespaces)
        if !last.isEmpty || !parts.isEmpty { parts.append(last) }
        return parts
    }

    /// The attribute type and unescaped value of the first RDN (`CN=Domain Admins,...` ->
    /// ("cn", "Domain Admins")), or nil for a multi-valued or malformed RDN.
    static func firstRDN(_ dn: String) -> (type: String, value: String)? {
        guard let first = rdns(dn).first, let equals = first.firstIndex(of: "=") else { return nil }
        let type = first[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
        let raw = String(first[first.index(after: equals)...])
        if raw.contains("+") && !raw.contains("\\+") { return nil }
        return (type, unescape(raw))
    }

    /// Whether `dn` equals `base` or lies beneath it. Compared RDN by RDN, case-insensitively,
    /// which is right for the case-ignoring attribute types DNs use in practice (cn, ou, dc).
    static func isWithin(_ dn: String, base: String) -> Bool {
        let entry = rdns(dn).map(normalize)
        let suffix = rdns(base).map(normalize)
        guard !suffix.isEmpty, entry.count >= suffix.count else { return suffix.isEmpty }
        return Array(entry.suffix(suffix.count)) == suffix
    }

    /// A comparable form of a DN: RDNs normalized and joined. Values are escaped again where
    /// they hold a separator, so `cn=a\,ou=x,dc=y` (one RDN `cn=a,ou=x`) and `cn=a,ou=x,dc=y`
    /// (two) stay different.
    static func canonical(_ dn: String) -> String { rdns(dn).map(normalize).joined(separator: ",") }

    private static func normalize(_ rdn: String) -> String {
        guard let equals = rdn.firstIndex(of: "=") else { return rdn.lowercased() }
        let type = rdn[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
        let value = unescape(String(rdn[rdn.index(after: equals)...])).trimmingCharacters(in: .whitespaces).lowercased()
        var escaped = ""
        for character in value {
            if "\\,;".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return "\(type)=\(escaped)"
    }

    /// RFC 4514 §3 unescaping: `\,` -> `,`, `\2C` -> `,` (hex pairs form UTF-8), quotes dropped.
    static func unescape(_ value: String) -> String {
        var bytes: [UInt8] = []
        let input = Array(value.utf8)
        var index = 0
        if input.first == UInt8(ascii: "\""), input.last == UInt8(ascii: "\""), input.count >= 2 {
            return String(decoding: input[1..<(input.count - 1)], as: UTF8.self)
        }
        while index < input.count {
            let byte = input[index]
            if byte == UInt8(ascii: "\\"), index + 1 < input.count {
                if index + 2 < input.count, let high = hexValue(input[index + 1]), let low = hexValue(input[index + 2]) {
                    bytes.append(high << 4 | low)
                    index += 3
                } else {
                    bytes.append(input[index + 1])
                    index += 2
                }
                continue
            }
            bytes.append(byte)
            index += 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
