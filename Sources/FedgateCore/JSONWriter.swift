/// Writes compact JSON (RFC 8259) straight into bytes, member by member.
///
/// For the few fixed-shape documents of the token path (JWT claims, the token response, the
/// stored refresh token), where Foundation's `JSONEncoder` building a value tree and then
/// serialising it cost more than signing an ES256 token. Everything else keeps using
/// `JSONEncoder`; tests compare each direct document with the encoder's.
/// Strings are escaped as RFC 8259 §7 requires (quotation mark, reverse solidus, control
/// characters); everything else, including non-ASCII UTF-8, is written as is.
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    private var needsComma = false

    public init(capacity: Int = 512) {
        bytes.reserveCapacity(capacity)
    }

    /// Writes `{`, the members `body` adds, and `}`.
    public static func object(capacity: Int = 512, _ body: (inout JSONWriter) throws -> Void) rethrows -> [UInt8] {
        var writer = JSONWriter(capacity: capacity)
        try writer.writeObject(body)
        return writer.bytes
    }

    public mutating func member(_ key: String, _ value: String) {
        writeKey(key)
        writeString(value)
    }

    public mutating func member(_ key: String, _ value: Int64) {
        writeKey(key)
        bytes.append(contentsOf: String(value).utf8)
    }

    /// A finite number, in Swift's shortest round-trip form (what `JSONDecoder` reads back as
    /// the same `Double`); a NaN or an infinity has no JSON form and is refused.
    public mutating func member(_ key: String, _ value: Double) throws {
        guard value.isFinite else { throw JSONWriterError.nonFiniteNumber(key) }
        writeKey(key)
        bytes.append(contentsOf: value.description.utf8)
    }

    public mutating func member(_ key: String, _ value: Bool) {
        writeKey(key)
        bytes.append(contentsOf: value ? Self.trueBytes : Self.falseBytes)
    }

    public mutating func member(_ key: String, _ values: [String]) {
        writeKey(key)
        bytes.append(UInt8(ascii: "["))
        for (i, value) in values.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            writeString(value)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// A member whose value is an object with the members `body` adds.
    public mutating func member(_ key: String, object body: (inout JSONWriter) throws -> Void) rethrows {
        writeKey(key)
        try writeObject(body)
    }

    // The optional forms leave the member out when the value is nil (as `encodeIfPresent`).
    public mutating func member(_ key: String, ifPresent value: String?) { if let value { member(key, value) } }
    public mutating func member(_ key: String, ifPresent value: Int64?) { if let value { member(key, value) } }
    public mutating func member(_ key: String, ifPresent value: Bool?) { if let value { member(key, value) } }
    public mutating func member(_ key: String, ifPresent values: [String]?) { if let values { member(key, values) } }

    private mutating func writeObject(_ body: (inout JSONWriter) throws -> Void) rethrows {
        bytes.append(UInt8(ascii: "{"))
        let outer = needsComma
        needsComma = false
        try body(&self)
        needsComma = outer
        bytes.append(UInt8(ascii: "}"))
    }

    private mutating func writeKey(_ key: String) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
        writeString(key)
        bytes.append(UInt8(ascii: ":"))
    }

    private mutating func writeString(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            guard let base = utf8.baseAddress else { return }
            let count = utf8.count
            var start = 0, index = 0
            while index < count {
                // Eight bytes at a time while none needs escaping (the tokens in a token
                // response are a kilobyte each, and need none).
                if index + 8 <= count,
                   !Self.mayNeedEscaping(UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)) {
                    index += 8
                    continue
                }
                let byte = base[index]
                if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                    bytes.append(contentsOf: UnsafeBufferPointer(start: base + start, count: index - start))
                    appendEscaped(byte)
                    start = index + 1
                }
                index += 1
            }
            bytes.append(contentsOf: UnsafeBufferPointer(start: base + start, count: count - start))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Whether any of the eight bytes of `word` is a control character, `"` or `\\`. Exact for
    /// "none" (the classic has-less-than and has-zero-byte tests: a byte at or above 0x80 never
    /// counts, since `~word` clears its top bit); the caller then looks at the bytes one by one.
    @inline(__always)
    static func mayNeedEscaping(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, tops: UInt64 = 0x8080_8080_8080_8080
        let control = (word &- ones &* 0x20) & ~word & tops
        let quote = word ^ (ones &* 0x22), backslash = word ^ (ones &* 0x5C)
        let quotes = (quote &- ones) & ~quote & tops
        let backslashes = (backslash &- ones) & ~backslash & tops
        return (control | quotes | backslashes) != 0
    }

    private mutating func appendEscaped(_ byte: UInt8) {
        bytes.append(UInt8(ascii: "\\"))
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(byte)
        case 0x08: bytes.append(UInt8(ascii: "b"))
        case 0x0C: bytes.append(UInt8(ascii: "f"))
        case 0x0A: bytes.append(UInt8(ascii: "n"))
        case 0x0D: bytes.append(UInt8(ascii: "r"))
        case 0x09: bytes.append(UInt8(ascii: "t"))
        default:
            bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                      Self.hex[Int(byte >> 4)], Self.hex[Int(byte & 0x0F)]])
        }
    }

    private static let trueBytes = Array("true".utf8)
    private static let falseBytes = Array("false".utf8)
    private static let hex = Array("0123456789abcdef".utf8)
}

public enum JSONWriterError: Error, Equatable {
    /// The member with this key was given a NaN or an infinity.
    case nonFiniteNumber(String)
}
