import FedgateCore
import Foundation
import Testing

@Suite("JSONReader")
struct JSONReaderTests {
    struct Sample: Codable, Equatable {
        var s: String
        var n: Double
        var b: Bool
        var a: [String]
    }

    /// Reads a `Sample` with the reader; members in any order, each exactly once.
    func read(_ text: String) throws -> Sample {
        try JSONReader.read(text) { reader in
            var sample = Sample(s: "", n: 0, b: false, a: [])
            var seen = Set<String>()
            try reader.object { key, reader in
                guard seen.insert(key).inserted else { throw JSONReaderError.unexpectedMember(key) }
                switch key {
                case "s": sample.s = try reader.string()
                case "n": sample.n = try reader.double()
                case "b": sample.b = try reader.bool()
                case "a": sample.a = try reader.strings()
                default: throw JSONReaderError.unexpectedMember(key)
                }
            }
            guard seen.count == 4 else { throw JSONReaderError.unexpectedMember("(missing)") }
            return sample
        }
    }

    func decoded(_ text: String) throws -> Sample {
        try JSONDecoder().decode(Sample.self, from: Data(text.utf8))
    }

    @Test("Random strings written by JSONWriter and by JSONEncoder read back as JSONDecoder reads them")
    func randomStrings() throws {
        var generator = SystemRandomNumberGenerator()
        let pool: [Unicode.Scalar] = (0..<0x80).compactMap(Unicode.Scalar.init) + ["é", "ß", "日", "🙂", "\u{2028}", "\u{FEFF}"]
        for _ in 0..<300 {
            var text = ""
            for _ in 0..<Int.random(in: 0..<40, using: &generator) { text.unicodeScalars.append(pool.randomElement(using: &generator)!) }
            let sample = Sample(s: text, n: Double.random(in: -1e12...1e12, using: &generator).rounded() / 1000,
                                b: Bool.random(using: &generator), a: [text, "", text])
            let written = String(decoding: try JSONWriter.object { json in
                json.member("a", sample.a)
                json.member("b", sample.b)
                try json.member("n", sample.n)
                json.member("s", sample.s)
            }, as: UTF8.self)
            #expect(try read(written) == sample)
            #expect(try read(written) == decoded(written))
            let encoded = String(decoding: try JSONEncoder().encode(sample), as: UTF8.self)
            #expect(try read(encoded) == decoded(encoded))
        }
    }

    @Test("Every escape, surrogate pairs, whitespace and number forms")
    func forms() throws {
        let text = #" { "s" : "q\" b\\ s\/ \b\f\n\r\t \u00e9\u65E5 \ud83d\ude42 \u0000" , "n":-1.5e3, "a":[ ] ,"b":true }  "#
        let sample = try read(text)
        #expect(sample == Sample(s: "q\" b\\ s/ \u{08}\u{0C}\n\r\t é日 🙂 \u{0}", n: -1500, b: true, a: []))
        #expect(sample == (try decoded(text)))
        for (number, value) in [("0", 0.0), ("-0", -0.0), ("1700000000.123456", 1_700_000_000.123456), ("2E-3", 0.002), ("10e+2", 1000)] {
            #expect(try read(#"{"s":"","n":\#(number),"b":false,"a":["x"]}"#).n == value)
        }
        // Keys are strings like any other: escapes resolve before they are compared.
        #expect(try read(#"{"\u0073":"x","n":1,"b":false,"a":[]}"#).s == "x")
    }

    @Test("Malformed documents and values of another type are refused", arguments: [
        #"{"s":"x","n":1,"b":false,"a":[]"#,              // unterminated object
        #"{"s":"x","n":1,"b":false,"a":[]} x"#,           // bytes after the document
        #"{"s":"x","n":01,"b":false,"a":[]}"#,            // leading zero
        #"{"s":"x","n":1.,"b":false,"a":[]}"#,            // empty fraction
        #"{"s":"x","n":.5,"b":false,"a":[]}"#,            // no integer part
        #"{"s":"x","n":1e999,"b":false,"a":[]}"#,         // not finite
        #"{"s":"x","n":"1","b":false,"a":[]}"#,           // a string for a number
        #"{"s":"x","n":1,"b":0,"a":[]}"#,                 // a number for a boolean
        #"{"s":"x","n":1,"b":nul,"a":[]}"#,               // a misspelled literal
        #"{"s":"x","n":1,"b":false,"a":["x",]}"#,         // trailing comma
        #"{"s":"x","n":1,"b":false,"a":[1]}"#,            // a number in a string array
        #"{"s":"\ud83d","n":1,"b":false,"a":[]}"#,        // lone high surrogate
        #"{"s":"\ude42x","n":1,"b":false,"a":[]}"#,       // lone low surrogate
        #"{"s":"\x","n":1,"b":false,"a":[]}"#,            // unknown escape
        #"{"s":"\u12G4","n":1,"b":false,"a":[]}"#,        // bad hex digit
        "{\"s\":\"tab\there\",\"n\":1,\"b\":false,\"a\":[]}", // raw control character
        #"{"s":"x","n":1,"b":false,"a":[],"s":"y"}"#,     // a member twice (the caller refuses)
        #"{"s":"x","n":1,"b":false}"#,                    // a member missing (the caller refuses)
        #"["s"]"#,
        "",
    ])
    func refused(_ text: String) {
        #expect(throws: (any Error).self) { try read(text) }
    }
}
