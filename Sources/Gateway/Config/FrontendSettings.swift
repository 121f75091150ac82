import Foundation
import Yams

/// Login pages' look (`frontend:`).
public struct FrontendSettings: Sendable, Equatable {
    /// A directory replacing the built-in web assets (same layout: `templates/`, `static/`,
    /// `themes/<theme>/`); nil = built-in. Dex also reads `DEX_FRONTEND_DIR` when unset.
    public var dir: String?
    /// `light` (default) or `dark`; Dex's legacy `coreos` and `tectonic` map to `light`.
    public var theme: String
    /// The display name in page titles and headings.
    public var issuer: String
    /// Logo URL; the default is the theme's logo, relative to the issuer.
    public var logoURL: String
    /// Free-form values templates can show (`{{ extra "key" }}` in Dex).
    public var extra: [String: String]

    public init(dir: String? = nil, theme: String = "light", issuer: String = "Fedgate",
                logoURL: String = "theme/logo.png", extra: [String: String] = [:]) {
        self.dir = dir; self.theme = theme; self.issuer = issuer; self.logoURL = logoURL; self.extra = extra
    }

    static let builtInThemes = ["light", "dark"]
}

extension FrontendSettings {
    private struct Raw: Decodable {
        var dir: String?
        var theme: String?
        var issuer: String?
        var logoURL: String?
        var extra: [String: String]?
    }

    static func resolve(_ node: Node?, parser: inout ConfigParser) -> FrontendSettings? {
        guard let raw = parser.decodeSection(Raw.self, from: node, at: "frontend", empty: Raw()) else { return nil }
        let before = parser.problems.count
        let defaults = FrontendSettings()
        let dirFromEnv = nonEmpty(parser.environment["FEDGATE_FRONTEND_DIR"]) ?? nonEmpty(parser.environment["DEX_FRONTEND_DIR"])
        let dir = nonEmpty(raw.dir) ?? dirFromEnv
        var theme = nonEmpty(raw.theme)?.lowercased() ?? defaults.theme
        if theme == "coreos" || theme == "tectonic" { theme = "light" }

        if let dir {
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) || !isDirectory.boolValue {
                parser.report("frontend.dir", "\"\(dir)\" is not a directory")
            } else {
                let themeDir = (dir as NSString).appendingPathComponent("themes/\(theme)")
                if !FileManager.default.fileExists(atPath: themeDir, isDirectory: &isDirectory) || !isDirectory.boolValue {
                    parser.report("frontend.theme", "theme \"\(theme)\" not found (no directory \(themeDir))")
                }
            }
        } else if !builtInThemes.contains(theme) {
            parser.report("frontend.theme", "unknown theme \"\(theme)\" (built-in: \(builtInThemes.joined(separator: ", ")))")
        }
        guard parser.problems.count == before else { return nil }
        return FrontendSettings(dir: dir, theme: theme, issuer: nonEmpty(raw.issuer) ?? defaults.issuer,
                                logoURL: nonEmpty(raw.logoURL) ?? defaults.logoURL, extra: raw.extra ?? [:])
    }
}
