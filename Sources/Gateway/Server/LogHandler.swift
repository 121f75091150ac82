import Foundation
import Logging

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

    public init(label: String, level: Logger.Level, format: Format) {
        self.label = label
        self.logLevel = level
        self.format = format
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    private static let lock = NSLock()

    public func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?,
                    source: String, file: String, function: String, line: UInt) {
        var all = self.metadata
        if let explicit { all.merge(explicit) { _, new in new } }
        let time = Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
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
        FileHandle.standardError.write(Data((text + "\n").utf8))
        Self.lock.unlock()
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
        let escaped = s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
        return "\"\(escaped)\""
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

