import Foundation
import Logging
import Yams

/// Logging (`logger:`). Dex logs text to stderr by default.
public struct LoggerSettings: Sendable, Equatable {
    public enum Format: String, Sendable, Equatable {
        case text, json
    }

    /// Dex's `debug|info|warn|error` as swift-log levels (`warn` -> `.warning`).
    public var level: Logger.Level
    public var format: Format
    /// Metadata keys never written (Dex's `excludeFields`, for personal data such as `email`,
    /// `username`, `groups`).
    public var excludeFields: Set<String>

    public init(level: Logger.Level = .info, format: Format = .text, excludeFields: Set<String> = []) {
        self.level = level
        self.format = format
        self.excludeFields = excludeFields
    }
}

extension LoggerSettings {
    private struct Raw: Decodable {
        var level: String?
        var format: String?
        var excludeFields: [String]?
    }

    private static let levels: [String: Logger.Level] = [
        "debug": .debug, "info": .info, "warn": .warning, "warning": .warning, "error": .error,
    ]

    /// Level and format are matched case-insensitively, as Dex does.
    static func resolve(_ node: Node?, parser: inout ConfigParser) -> LoggerSettings? {
        guard let raw = parser.decodeSection(Raw.self, from: node, at: "logger", empty: Raw()) else { return nil }
        var settings = LoggerSettings()
        var valid = true
        if let text = nonEmpty(raw.level) {
            if let level = levels[text.lowercased()] { settings.level = level } else {
                parser.report("logger.level", "unknown log level \"\(text)\" (supported: debug, info, warn, error)")
                valid = false
            }
        }
        if let text = nonEmpty(raw.format) {
            if let format = Format(rawValue: text.lowercased()) { settings.format = format } else {
                parser.report("logger.format", "unknown log format \"\(text)\" (supported: text, json)")
                valid = false
            }
        }
        settings.excludeFields = Set((raw.excludeFields ?? []).compactMap(nonEmpty))
        return valid ? settings : nil
    }
}
