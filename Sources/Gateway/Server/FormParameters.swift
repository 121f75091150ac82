import Foundation

/// Decoded `application/x-www-form-urlencoded` parameters (query strings and POST bodies).
///
/// RFC 6749 §3.1 and §3.2: parameters sent without a value are treated as omitted, and a
/// parameter MUST NOT be included more than once — `duplicates` lists those so the caller
/// can refuse the request.
public struct FormParameters: Sendable {
    private var values: [String: String] = [:]
    public private(set) var duplicates: [String] = []

    public init() {}

    /// Pairs are split at `&` (empty ones skipped), each at its first `=`; one pass over the bytes.
    public init(encoded: Substring) {
        let utf8 = encoded.utf8
        var start = utf8.startIndex
        while start < utf8.endIndex {
            let end = utf8[start...].firstIndex(of: UInt8(ascii: "&")) ?? utf8.endIndex
            defer { start = end < utf8.endIndex ? utf8.index(after: end) : end }
            guard start < end else { continue }
            let equals = utf8[start..<end].firstIndex(of: UInt8(ascii: "="))
            guard let key = Self.decode(Substring(utf8[start..<(equals ?? end)])), !key.isEmpty else { continue }
            let value = equals.map { Self.decode(Substring(utf8[utf8.index(after: $0)..<end])) ?? "" } ?? ""
            if values[key] != nil { duplicates.append(key) }
            values[key] = value
        }
    }

    public init(encoded: String) { self.init(encoded: encoded[...]) }

    /// Form decoding per the WHATWG URL standard: `+` is a space, then percent-decoding.
    /// Most values (ids, grant types, base64url tokens) contain neither `+` nor `%`: they are
    /// returned as they are, without Foundation's string scanning (a token request's biggest
    /// parsing cost).
    static func decode(_ s: Substring) -> String? {
        var hasPlus = false, hasPercent = false
        for byte in s.utf8 {
            if byte == UInt8(ascii: "+") { hasPlus = true } else if byte == UInt8(ascii: "%") { hasPercent = true }
        }
        var text = String(s)
        if hasPlus { text = text.replacingOccurrences(of: "+", with: " ") }
        return hasPercent ? text.removingPercentEncoding : text
    }

    /// The value, or nil when absent or empty.
    public subscript(_ key: String) -> String? {
        guard let v = values[key], !v.isEmpty else { return nil }
        return v
    }

    public var keys: Dictionary<String, String>.Keys { values.keys }

    /// Merges `other` over these (later values win): used for POST /auth with a query string.
    public func merging(_ other: FormParameters) -> FormParameters {
        var copy = self
        for (k, v) in other.values {
            if copy.values[k] != nil { copy.duplicates.append(k) }
            copy.values[k] = v
        }
        return copy
    }

    /// The longest value, to refuse oversized requests early.
    public var longestValue: (key: String, length: Int)? {
        values.max { $0.value.utf8.count < $1.value.utf8.count }.map { ($0.key, $0.value.utf8.count) }
    }

    /// Percent-encodes a value for a query component (RFC 3986 unreserved characters kept).
    public static func encode(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    /// Appends parameters to a URL that may already carry a query (RFC 6749 §3.1.2: the redirect
    /// URI's own query is retained).
    public static func append(_ params: [(String, String)], to url: String, fragment: Bool = false) -> String {
        let encoded = params.map { "\(encode($0.0))=\(encode($0.1))" }.joined(separator: "&")
        if fragment { return url + "#" + encoded }
        return url + (url.contains("?") ? "&" : "?") + encoded
    }
}
