@testable import Connectors
import Foundation
import Testing

/// `BCrypt.trimmingWhitespace` replaced `trimmingCharacters(in: .whitespacesAndNewlines)` (to keep
/// Foundation's CharacterSet out of start-up); Foundation is the oracle here.
@Suite("bcrypt hash trimming matches Foundation's whitespacesAndNewlines")
struct BCryptTrimmingTests {
    static let samples: [String] = [
        "", " ", "\t\n\r", "abc", " abc ", "\tabc\n", "\r\n$2a$10$x\r\n", "a b", " a b ",
        "\u{85}x\u{85}", "\u{A0}x\u{A0}", "\u{2028}x\u{2029}", "\u{3000}x\u{200A}", "\u{0B}\u{0C}x",
        "\u{200B}x\u{200B}", "\u{FEFF}x", "é\u{301} ", " \u{1F600} ", "\u{1680}\u{202F}\u{205F}x",
    ]

    @Test("same result as Foundation for every sample", arguments: samples)
    func matchesFoundation(sample: String) {
        #expect(BCrypt.trimmingWhitespace(sample) == sample.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test("every BMP scalar: whitespace exactly where Foundation's set says so")
    func everyScalar() {
        for value in UInt32(0)...0xFFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let s = String(scalar) + "x"
            #expect(BCrypt.trimmingWhitespace(s) == s.trimmingCharacters(in: .whitespacesAndNewlines), "U+\(String(value, radix: 16))")
        }
    }
}
