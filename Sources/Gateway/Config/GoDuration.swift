import Foundation

/// Go's duration syntax (`time.ParseDuration`), which Dex configs use for every lifetime:
/// `"300ms"`, `"1.5h"`, `"2h45m"`, `"10s"`, `"-1m"`, `"0"`.
///
/// Implemented to the letter of Go's `time/format.go` so a value Dex accepts parses to the same
/// number of nanoseconds here, and a value Dex rejects is rejected too (a bare `"10"` has no unit;
/// `"1d"` is not a Go unit). Units: `ns`, `us` (also `µs`/`μs`), `ms`, `s`, `m`, `h`.
public enum GoDuration {
    /// Why a duration failed to parse, with Go's wording.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var input: String
        public var reason: String
        public var description: String { "invalid duration \"\(input)\": \(reason)" }
    }

    private static let units: [String: UInt64] = [
        "ns": 1,
        "us": 1_000, "\u{00B5}s": 1_000, "\u{03BC}s": 1_000,
        "ms": 1_000_000,
        "s": 1_000_000_000,
        "m": 60 * 1_000_000_000,
        "h": 3_600 * 1_000_000_000,
    ]

    /// Parses `text` into seconds. Throws `ParseError` exactly where Go's `time.ParseDuration` errs.
    public static func parse(_ text: String) throws(ParseError) -> TimeInterval {
        let nanos = try parseNanoseconds(text)
        return TimeInterval(nanos) / 1_000_000_000
    }

    /// Parses `text` into signed nanoseconds (Go's `time.Duration`), rejecting overflow past Int64.
    public static func parseNanoseconds(_ text: String) throws(ParseError) -> Int64 {
        var s = Array(text.utf8)[...]
        func fail(_ reason: String) -> ParseError { ParseError(input: text, reason: reason) }

        var negative = false
        if let first = s.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            s = s.dropFirst()
        }
        if s.elementsEqual("0".utf8) { return 0 }
        if s.isEmpty { throw fail("not a duration") }

        var total: UInt64 = 0
        while let head = s.first {
            guard head == UInt8(ascii: ".") || isDigit(head) else { throw fail("not a duration") }

            // The integer part.
            let beforeInt = s.count
            guard let whole = leadingInt(&s) else { throw fail("value out of range") }
            let sawInt = s.count != beforeInt

            // The fraction, kept as digits/scale so "1.5h" is exact like Go's.
            var fraction: UInt64 = 0
            var scale: Double = 1
            var sawFraction = false
            if s.first == UInt8(ascii: ".") {
                s = s.dropFirst()
                let beforeFraction = s.count
                (fraction, scale) = leadingFraction(&s)
                sawFraction = s.count != beforeFraction
            }
            guard sawInt || sawFraction else { throw fail("not a duration") }

            // The unit: everything up to the next digit or dot.
            let unitBytes = s.prefix { $0 != UInt8(ascii: ".") && !isDigit($0) }
            guard !unitBytes.isEmpty else { throw fail("missing unit (use ns, us, ms, s, m or h)") }
            s = s.dropFirst(unitBytes.count)
            let unitName = String(decoding: unitBytes, as: UTF8.self)
            guard let unit = units[unitName] else {
                throw fail("unknown unit \"\(unitName)\" (use ns, us, ms, s, m or h)")
            }

            let (scaled, overflow) = whole.multipliedReportingOverflow(by: unit)
            guard !overflow, scaled <= 1 << 63 else { throw fail("value out of range") }
            var value = scaled
            if fraction > 0 {
                // Go: v += uint64(float64(f) * (float64(unit) / scale))
                value += UInt64(Double(fraction) * (Double(unit) / scale))
                guard value <= 1 << 63 else { throw fail("value out of range") }
            }
            let (sum, sumOverflow) = total.addingReportingOverflow(value)
            guard !sumOverflow, sum <= 1 << 63 else { throw fail("value out of range") }
            total = sum
        }
        if negative { return total == 1 << 63 ? Int64.min : -Int64(total) }
        guard total <= UInt64(Int64.max) else { throw fail("value out of range") }
        return Int64(total)
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    /// Consumes leading digits; nil on overflow past 2^63 (Go's `errLeadingInt`).
    private static func leadingInt(_ s: inout ArraySlice<UInt8>) -> UInt64? {
        var x: UInt64 = 0
        while let c = s.first, isDigit(c) {
            if x > (1 << 63 - 1) / 10 { return nil }
            x = x * 10 + UInt64(c - UInt8(ascii: "0"))
            if x > 1 << 63 { return nil }
            s = s.dropFirst()
        }
        return x
    }

    /// Consumes fraction digits, dropping precision (not failing) once it would overflow, like Go.
    private static func leadingFraction(_ s: inout ArraySlice<UInt8>) -> (UInt64, Double) {
        var x: UInt64 = 0
        var scale: Double = 1
        var overflow = false
        while let c = s.first, isDigit(c) {
            s = s.dropFirst()
            if overflow { continue }
            if x > (1 << 63 - 1) / 10 { overflow = true; continue }
            let y = x * 10 + UInt64(c - UInt8(ascii: "0"))
            if y > 1 << 63 { overflow = true; continue }
            x = y
            scale *= 10
        }
        return (x, scale)
    }
}
