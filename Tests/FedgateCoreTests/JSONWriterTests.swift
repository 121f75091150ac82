@testable import FedgateCore
import Foundation
import Testing

@Suite("JSONWriter")
struct JSONWriterTests {
    func parse(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    @Test("Every value kind, nested objects and omitted optionals")
    func members() throws {
        let bytes = JSONWriter.object { json in
            json.member("s", "text")
            json.member("i", Int64(-42))
            json.member("big", Int64.max)
            json.member("t", true)
            json.member("f", false)
            json.member("a", ["x", "y"])
            json.member("empty", [String]())
            json.member("missing", ifPresent: String?.none)
            json.member("present", ifPresent: Int64?.some(7))
            json.member("o") { inner in
                inner.member("k", "v")
                inner.member("n", Int64(1))
            }
            json.member("after", "last")
        }
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"s":"text","i":-42,"big":9223372036854775807,"t":true,"f":false,"a":["x","y"],"empty":[],"present":7,"o":{"k":"v","n":1},"after":"last"}"#)
        let object = try parse(bytes)
        #expect(object["missing"] == nil)
        #expect((object["o"] as? [String: Any])?["k"] as? String == "v")
    }

    @Test("Quotation marks, reverse solidus and every control character are escaped; the rest is kept")
    func escaping() throws {
        var text = "quote \" backslash \\ slash / é 日本 🙂 \u{7F} \u{2028}"
        for scalar in 0..<0x20 { text.unicodeScalars.append(Unicode.Scalar(UInt8(scalar))) }
        let bytes = JSONWriter.object { $0.member(text, text) }
        let written = String(decoding: bytes, as: UTF8.self)
        #expect(written.contains(#"\""#) && written.contains(#"\\"#) && written.contains(#"\n"#) && written.contains(#"\u001f"#))
        #expect(!written.unicodeScalars.contains { $0.value < 0x20 })
        #expect(try parse(bytes)[text] as? String == text)
    }

    @Test("A character that needs escaping is found at every position of a long string, and only such a character")
    func escapingAtEveryPosition() throws {
        // The writer scans eight bytes at a time: each special byte at each offset of words and
        // of the tail, next to bytes it must not be mistaken for (0x1F/0x20, 0x21/0x23, 0x5B/0x5D,
        // 0x7F, multi-byte UTF-8 whose bytes are all at or above 0x80).
        let specials: [Unicode.Scalar] = (0..<0x20).map { Unicode.Scalar(UInt8($0)) } + ["\"", "\\"]
        let neighbours: [Unicode.Scalar] = [" ", "!", "#", "[", "]", "\u{7F}", "é", "日", "🙂", "A"]
        for length in [1, 7, 8, 9, 15, 16, 17, 24, 31] {
            for position in 0..<length {
                for special in specials + neighbours {
                    var scalars = (0..<length).map { neighbours[$0 % neighbours.count] }
                    scalars[position] = special
                    var text = ""
                    text.unicodeScalars.append(contentsOf: scalars)
                    let bytes = JSONWriter.object { $0.member("v", text) }
                    #expect(!bytes.contains { $0 < 0x20 })
                    #expect(try JSONDecoder().decode([String: String].self, from: Data(bytes))["v"] == text)
                }
            }
        }
        // The word test against a byte-by-byte check, over random words.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            var word = UInt64.random(in: .min ... .max, using: &generator)
            // Mostly printable bytes, so that "none needs escaping" comes up often too.
            if Bool.random(using: &generator) { word = (word & 0x3F3F_3F3F_3F3F_3F3F) | 0x4040_4040_4040_4040 }
            let expected = (0..<8).contains { shift -> Bool in
                let byte = UInt8(truncatingIfNeeded: word >> (shift * 8))
                return byte < 0x20 || byte == 0x22 || byte == 0x5C
            }
            #expect(JSONWriter.mayNeedEscaping(word) == expected)
        }
    }

    struct Sample: Decodable { var v: String; var a: [String] }

    @Test("Random strings come back from JSONDecoder as written")
    func randomStrings() throws {
        var generator = SystemRandomNumberGenerator()
        let pool: [Unicode.Scalar] = (0..<0x80).compactMap(Unicode.Scalar.init) + ["é", "ß", "日", "🙂", "\u{2028}", "\u{FEFF}"]
        for _ in 0..<300 {
            let length = Int.random(in: 0..<40, using: &generator)
            var text = ""
            for _ in 0..<length { text.unicodeScalars.append(pool.randomElement(using: &generator)!) }
            let bytes = JSONWriter.object { json in
                json.member("v", text)
                json.member("a", [text, text])
            }
            // (JSONDecoder, not JSONSerialization, which drops U+FEFF inside strings.)
            let sample = try JSONDecoder().decode(Sample.self, from: Data(bytes))
            #expect(sample.v == text)
            #expect(sample.a == [text, text])
        }
    }
}
