import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// swift-log handler writing Dex-style text or JSON lines to stderr (`logger.format`).
///
/// Nothing logs secrets: routes log paths without query strings, and metadata never carries
/// passwords, codes or tokens.
public struct FedgateLogHandler: LogHandler {
    public enum Format: Sendable { case text, json }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let format: Format
    /// `logger.excludeFields`: metadata keys left out of every line.
    private let excludeFields: Set<String>

    public init(label: String, level: Logger.Level, format: Format, excludeFields: Set<String> = []) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.excludeFields = excludeFields
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    private static let lock = NSLock()

    public func log(event: LogEvent) {
        let level = event.level, message = event.message
        var all = self.metadata
        if let explicit = event.metadata { all.merge(explicit) { _, new in new } }
        for field in excludeFields { all[field] = nil }
        let time = Self.timestamp()
        let text: String
        switch format {
        case .text:
            let meta = all.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.quote($0.value.description))" }.joined(separator: " ")
            text = "time=\(time) level=\(Self.name(level)) msg=\(Self.quote(message.description))" + (meta.isEmpty ? "" : " " + meta)
        case .json:
            var object: [String: String] = ["time": time, "level": Self.name(level), "msg": message.description]
            for (k, v) in all where object[k] == nil { object[k] = v.description }
            let data = (try? JSONEncoder.sorted.encode(object)) ?? Data()
            text = String(decoding: data, as: UTF8.self)
        }
        Self.lock.lock()
        Self.writeStandardError(text + "\n")
        Self.lock.unlock()
    }

    /// The current time in UTC as RFC 3339 with milliseconds ("2006-01-02T15:04:05.000Z", the
    /// layout of Dex's log lines). Formatted from `clock_gettime`/`gmtime_r` rather than
    /// `Date.ISO8601FormatStyle`: Foundation's formatter resolves a calendar and time zone through
    /// ICU, which pages in about 1 MiB of ICU and Foundation code at the first log line (issue 3,
    /// idle RSS), and a log line needs none of it.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return timestamp(seconds: Int(now.tv_sec), milliseconds: Int(now.tv_nsec) / 1_000_000)
    }

    /// `seconds` since the Unix epoch plus `milliseconds` (0...999) as "yyyy-MM-ddTHH:mm:ss.SSSZ".
    static func timestamp(seconds: Int, milliseconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func digits(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
        }
        return digits(parts.tm_year + 1900, 4) + "-" + digits(parts.tm_mon + 1, 2) + "-" + digits(parts.tm_mday, 2)
            + "T" + digits(parts.tm_hour, 2) + ":" + digits(parts.tm_min, 2) + ":" + digits(parts.tm_sec, 2)
            + "." + digits(Int32(milliseconds), 3) + "Z"
    }

    /// Writes the whole line to fd 2 (retrying short writes and EINTR); errors are ignored, as a
    /// logger has nowhere to report them.
    private static func writeStandardError(_ line: String) {
        var line = line
        line.withUTF8 { buffer in
            guard var base = buffer.baseAddress else { return }
            var left = buffer.count
            while left > 0 {
                let written = write(2, base, left)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                base += written
                left -= written
            }
        }
    }

    static func name(_ level: Logger.Level) -> String {
        switch level {
        case .trace, .debug: return "DEBUG"
        case .info, .notice: return "INFO"
        case .warning: return "WARN"
        case .error, .critical: return "ERROR"
        }
    }

    static func quote(_ s: String) -> String {
        if !s.isEmpty, !s.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline }) { return s }
        // Per scalar, not per Character: "\r\n" is one Character but only its "\n" is escaped.
        var escaped = String.UnicodeScalarView()
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\\": escaped.append(contentsOf: "\\\\".unicodeScalars)
            case "\"": escaped.append(contentsOf: "\\\"".unicodeScalars)
            case "\n": escaped.append(contentsOf: "\\n".unicodeScalars)
            default: escaped.append(scalar)
            }
        }
        return "\"" + String(escaped) + "\""
    }

    /// Maps Dex's `logger.level` names onto swift-log levels.
    public static func level(named name: String) -> Logger.Level {
        switch name.lowercased() {
        case "debug": return .debug
        case "warn", "warning": return .warning
        case "error": return .error
        default: return .info
        }
    }
}

