import Foundation

/// Building LDAP search filters (RFC 4515) from configuration and untrusted input.
///
/// Every value that comes from a user (the login name) or from the directory (a DN, a uid, a
/// binary objectGUID) is escaped byte by byte before it goes into a filter, so `*` cannot become
/// a wildcard, `)(|(uid=*` cannot add a clause and a NUL cannot end the string early.
public enum LDAPFilter {
    /// RFC 4515 §3 `valueencoding`: the five characters the grammar reserves (`*`, `(`, `)`, `\`
    /// and NUL) must be written as `\XX`. Fedgate also escapes every other byte outside printable
    /// ASCII, which the grammar allows for any octet, so binary values (objectGUID) and invalid
    /// UTF-8 survive intact and the filter text stays plain ASCII in logs.
    public static func escape(_ value: some Sequence<UInt8>) -> String {
        var out = ""
        for byte in value {
            switch byte {
            case UInt8(ascii: "*"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "\\"), 0, 0x7F..., ..<0x20:
                out += "\\" + hex(byte)
            default:
                out.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return out
    }

    /// Escapes a string's UTF-8 bytes.
    public static func escape(_ value: String) -> String { escape(Array(value.utf8)) }

    /// `(attribute=escaped value)`. `attribute` comes from the config and may carry an extensible
    /// match rule, e.g. Active Directory's `member:1.2.840.113556.1.4.1941:` (LDAP_MATCHING_RULE_IN_CHAIN).
    public static func equality(_ attribute: String, _ value: some Sequence<UInt8>) -> String {
        "(\(attribute)=\(escape(value)))"
    }

    /// `(|(a=v)(b=v))` for several attributes, or the single clause for one.
    public static func anyEquals(_ attributes: [String], _ value: some Sequence<UInt8>) -> String {
        let bytes = Array(value)
        let clauses = attributes.map { equality($0, bytes) }
        return clauses.count == 1 ? clauses[0] : "(|" + clauses.joined() + ")"
    }

    /// `(&configured clause)`, or the clause alone when no filter is configured (Dex's rule).
    public static func and(_ configured: String, _ clause: String) -> String {
        let trimmed = configured.trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty ? clause : "(&\(trimmed)\(clause))"
    }

    /// A light structural check of a configured filter: it must be one parenthesised expression
    /// with balanced parentheses (escaped ones do not count). The server does the full parse; this
    /// catches the common mistake `objectClass=person` (no parentheses) at config time.
    public static func isWellFormed(_ filter: String) -> Bool {
        let bytes = Array(filter.trimmingCharacters(in: .whitespaces).utf8)
        guard bytes.first == UInt8(ascii: "("), bytes.last == UInt8(ascii: ")") else { return false }
        var depth = 0
        var index = 0
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\\"):
                index += 2
                continue
            case UInt8(ascii: "("):
                depth += 1
            case UInt8(ascii: ")"):
                depth -= 1
                if depth < 0 { return false }
                // The outermost expression must end at the last byte.
                if depth == 0 && index != bytes.count - 1 { return false }
            default:
                break
            }
            index += 1
        }
        return depth == 0
    }

    /// Whether `name` is usable as an attribute description in a filter: a descriptor or OID,
    /// options (`;binary`) and an optional extensible-match suffix (`:dn`, `:1.2.3:`). Rejects
    /// anything that could change the filter's structure.
    public static func isAttributeDescription(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.properties.isASCIIHexDigit || CharacterSet.letters.contains(first) else {
            return false
        }
        return name.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "-;.:".unicodeScalars.contains(scalar))
        }
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef".unicodeScalars)
        return String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0x0F)])
    }
}
