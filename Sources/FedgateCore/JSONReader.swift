/// A strict pull reader over one JSON document (RFC 8259) in UTF-8, for the few bodies read on
/// every grant whose shape is known (`JSONWriter`'s counterpart).
///
/// It reads what its caller asks for, in document order: `object` walks the members of an
/// object, and the value methods read one value of the expected type. Anything else (another
/// type, a malformed document, a lone surrogate escape, bytes after the document) throws
/// `JSONReaderError`, and callers then hand the text to Foundation's `JSONDecoder`, which stays
/// the reference: this reader only ever answers for documents the decoder reads the same way.
public struct JSONReader: ~Copyable {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0

    /// Reads `text` with `body`, which must consume the whole document.
    public static func read<T>(_ text: String, _ body: (inout JSONReader) throws -> T) throws -> T {
        var text = text
        return try text.withUTF8 { bytes in
            var reader = JSONReader(bytes: bytes)
            let value = try body(&reader)
            reader.skipWhitespace()
            guard reader.index == bytes.count else { throw JSONReaderError.malformed(offset: reader.index) }
            return value
        }
    }

    private init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    // MARK: Structure

    /// Reads an object, calling `member` with each key; `member` must read exactly its value.
    public mutating func object(_ member: (String, inout JSONReader) throws -> Void) throws {
        try expect(UInt8(ascii: "{"))
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            let key = try string()
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            try member(key, &self)
            skipWhitespace()
            switch next() {
            case UInt8(ascii: ","): continue
            case UInt8(ascii: "}"): return
            default: throw JSONReaderError.malformed(offset: index - 1)
            }
        }
    }

    /// Reads an array of strings.
    public mutating func strings() throws -> [String] {
        skipWhitespace()
        try expect(UInt8(ascii: "["))
        var values: [String] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            index += 1
            return values
        }
        while true {
            values.append(try string())
            skipWhitespace()
            switch next() {
            case UInt8(ascii: ","): continue
            case UInt8(ascii: "]"): return values
            default: throw JSONReaderError.malformed(offset: index - 1)
            }
        }
    }

    // MARK: Values

    /// Consumes `null` and answers true, or answers false and consumes nothing.
    public mutating func null() -> Bool {
        skipWhitespace()
        guard literal("null") else { return false }
        return true
    }

    public mutating func bool() throws -> Bool {
        skipWhitespace()
        if literal("true") { return true }
        if literal("false") { return false }
        throw JSONReaderError.malformed(offset: index)
    }

    /// A number (RFC 8259 §6 grammar), as the nearest `Double`.
    public mutating func double() throws -> Double {
        skipWhitespace()
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        switch peek() {
        case UInt8(ascii: "0"): index += 1
        case UInt8(ascii: "1")...UInt8(ascii: "9"): skipDigits()
        default: throw JSONReaderError.malformed(offset: index)
        }
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard isDigit(peek()) else { throw JSONReaderError.malformed(offset: index) }
            skipDigits()
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            guard isDigit(peek()) else { throw JSONReaderError.malformed(offset: index) }
            skipDigits()
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else { throw JSONReaderError.malformed(offset: start) }
        return value
    }

    /// A string, with every escape of RFC 8259 §7 resolved (a lone surrogate is refused).
    public mutating func string() throws -> String {
        skipWhitespace()
        try expect(UInt8(ascii: "\""))
        let start = index
        // The common case: no escapes, so the bytes between the quotes are the string.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index - 1]), as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw JSONReaderError.malformed(offset: index) }
            index += 1
        }
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self).unicodeScalars)
        var run = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                scalars.append(contentsOf: String(decoding: UnsafeBufferPointer(rebasing: bytes[run..<index]), as: UTF8.self).unicodeScalars)
                index += 1
                if byte == UInt8(ascii: "\"") { return String(scalars) }
                scalars.append(try escape())
                run = index
                continue
            }
            guard byte >= 0x20 else { throw JSONReaderError.malformed(offset: index) }
            index += 1
        }
        throw JSONReaderError.malformed(offset: index)
    }

    // MARK: Bytes

    private mutating func escape() throws -> Unicode.Scalar {
        switch next() {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let unit = try hex4()
            switch unit {
            case 0xD800...0xDBFF:
                guard next() == UInt8(ascii: "\\"), next() == UInt8(ascii: "u") else { break }
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else { break }
                return Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))!
            case 0xDC00...0xDFFF:
                break
            default:
                return Unicode.Scalar(unit)!
            }
            throw JSONReaderError.malformed(offset: index)
        default:
            break
        }
        throw JSONReaderError.malformed(offset: index - 1)
    }

    private mutating func hex4() throws -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = next()
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw JSONReaderError.malformed(offset: index - 1)
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// The next byte, or 0 at the end (never a valid byte where a caller expects one).
    private mutating func next() -> UInt8 {
        guard index < bytes.count else { return 0 }
        defer { index += 1 }
        return bytes[index]
    }

    private func peek() -> UInt8 {
        index < bytes.count ? bytes[index] : 0
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private mutating func skipDigits() {
        while isDigit(peek()) { index += 1 }
    }

    private mutating func expect(_ byte: UInt8) throws {
        skipWhitespace()
        guard peek() == byte else { throw JSONReaderError.malformed(offset: index) }
        index += 1
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard bytes.count - index >= count else { return false }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
        index += count
        return true
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): index += 1
            default: return
            }
        }
    }
}

public enum JSONReaderError: Error, Equatable {
    /// Not the JSON the caller asked for, at this byte offset.
    case malformed(offset: Int)
    /// A member the caller does not read, or one given twice.
    case unexpectedMember(String)
}
