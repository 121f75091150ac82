import Foundation
import Yams

/// Go's `os.Expand`/`os.ExpandEnv`, which Dex applies (feature flag `DEX_EXPAND_ENV`, on by default)
/// to every string value inside `storage.config`, `connectors[].config` and `signer.config`
/// (`cmd/dex/config.go: expandEnvInMap`). Reproduced byte for byte so a Dex config expands the same:
/// - `${VAR}` and `$VAR` (VAR = `[A-Za-z0-9_]+`) are replaced; unset variables become "".
/// - A single special character names a variable too: `$1`, `$$`, `$@`, `${*}`...
/// - A `$` at the very end, or followed by something that is not a name (`$-` aside), stays literally.
/// - Bad brace syntax is eaten: `${}` and an unterminated `${` vanish.
public enum EnvExpansion {
    /// Expands `text` with `lookup`; a nil lookup result counts as "" (Go's `os.Getenv`).
    public static func expand(_ text: String, lookup: (String) -> String?) -> String {
        let s = Array(text.utf8)
        var out: [UInt8] = []
        var changed = false
        var i = 0  // start of the pending literal run
        var j = 0
        while j < s.count {
            if s[j] == UInt8(ascii: "$"), j + 1 < s.count {
                changed = true
                out.append(contentsOf: s[i..<j])
                let (name, width) = shellName(s[(j + 1)...])
                if name == nil, width > 0 {
                    // Invalid syntax: the characters are eaten.
                } else if let name {
                    out.append(contentsOf: (lookup(name) ?? "").utf8)
                } else {
                    // Valid syntax but no name: leave the dollar alone.
                    out.append(s[j])
                }
                j += width
                i = j + 1
            }
            j += 1
        }
        guard changed else { return text }
        if i < s.count { out.append(contentsOf: s[i...]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Expands every scalar string below `node` (mapping values and sequence items; keys stay as
    /// written, as in Dex, which only rewrites values).
    static func expand(_ node: Node, lookup: (String) -> String?) -> Node {
        switch node {
        case .scalar(let scalar):
            guard scalar.string.utf8.contains(UInt8(ascii: "$")) else { return node }
            let expanded = expand(scalar.string, lookup: lookup)
            // A fresh implicit tag lets "$PORT" -> "5432" decode as a number where one is wanted.
            return .scalar(Node.Scalar(expanded, .implicit, scalar.style, scalar.mark))
        case .mapping(let mapping):
            let pairs = mapping.map { ($0.key, expand($0.value, lookup: lookup)) }
            return .mapping(Node.Mapping(pairs, mapping.tag, mapping.style, mapping.mark))
        case .sequence(let sequence):
            let items = sequence.map { expand($0, lookup: lookup) }
            return .sequence(Node.Sequence(items, sequence.tag, sequence.style, sequence.mark))
        case .alias:
            return node
        }
    }

    private static func isSpecial(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "*"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "@"), UInt8(ascii: "!"),
             UInt8(ascii: "?"), UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return false
        }
    }

    private static func isAlphaNumeric(_ c: UInt8) -> Bool {
        c == UInt8(ascii: "_") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c)
            || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(c)
    }

    /// Go's `getShellName`: the variable name after a `$` and how many bytes it spans.
    /// A nil name with a non-zero width means "bad syntax, eat `width` bytes".
    private static func shellName(_ s: ArraySlice<UInt8>) -> (String?, Int) {
        let b = Array(s)
        if b[0] == UInt8(ascii: "{") {
            if b.count > 2, isSpecial(b[1]), b[2] == UInt8(ascii: "}") {
                return (String(decoding: b[1...1], as: UTF8.self), 3)
            }
            for k in 1..<b.count where b[k] == UInt8(ascii: "}") {
                if k == 1 { return (nil, 2) }  // "${}"
                return (String(decoding: b[1..<k], as: UTF8.self), k + 1)
            }
            return (nil, 1)  // "${" never closed
        }
        if isSpecial(b[0]) { return (String(decoding: b[0...0], as: UTF8.self), 1) }
        var k = 0
        while k < b.count, isAlphaNumeric(b[k]) { k += 1 }
        return (k == 0 ? nil : String(decoding: b[0..<k], as: UTF8.self), k)
    }
}
