import Foundation
@testable import Gateway
import Testing

/// The log line's time and quoting, formatted without Foundation's ICU-backed formatters.
@Suite("log handler formatting")
struct LogHandlerTests {
    @Test("timestamps are RFC 3339 UTC with milliseconds, as ISO8601FormatStyle wrote them")
    func timestamps() {
        #expect(FedgateLogHandler.timestamp(seconds: 0, milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(FedgateLogHandler.timestamp(seconds: 951_782_400, milliseconds: 7) == "2000-02-29T00:00:00.007Z")
        #expect(FedgateLogHandler.timestamp(seconds: 1_700_000_000, milliseconds: 999) == "2023-11-14T22:13:20.999Z")
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        for seconds in stride(from: 0, to: 4_102_444_800, by: 86_399 * 37 + 1234) {
            let expected = Date(timeIntervalSince1970: Double(seconds) + 0.25).formatted(style)
            #expect(FedgateLogHandler.timestamp(seconds: seconds, milliseconds: 250) == expected)
        }
    }

    @Test("the current time has the layout")
    func now() {
        let text = FedgateLogHandler.timestamp()
        #expect(text.count == 24 && text.hasSuffix("Z") && Array(text)[10] == "T")
    }

    @Test("quoting escapes backslash, quote and newline only, and leaves plain words alone")
    func quoting() {
        #expect(FedgateLogHandler.quote("plain") == "plain")
        #expect(FedgateLogHandler.quote("") == "\"\"")
        #expect(FedgateLogHandler.quote("a b") == "\"a b\"")
        #expect(FedgateLogHandler.quote("k=v") == "\"k=v\"")
        #expect(FedgateLogHandler.quote("say \"hi\"\\ now") == "\"say \\\"hi\\\"\\\\ now\"")
        #expect(FedgateLogHandler.quote("line1\nline2") == "\"line1\\nline2\"")
        #expect(FedgateLogHandler.quote("crlf\r\nend") == "\"crlf\r\\nend\"")
    }
}
