import Foundation
import Mustache

/// Renders Fedgate's server-side HTML pages (connector chooser, password form, consent, errors)
/// and serves their static assets, the way Dex's `server/templates.go` does.
///
/// Templates are Mustache (`Web/templates/*.mustache`, partials `header` and `footer`); `{{ }}`
/// HTML-escapes every value, so no caller has to. Templates and assets are read and compiled once
/// in `init`, so rendering and ``asset(_:)`` never block an event loop on disk I/O.
public final class Pages: Sendable {
    /// Page templates every installation must have (bundled, or overridden in `frontend.dir`).
    static let requiredTemplates = ["header", "footer", "login", "password", "approval", "error", "oob", "saml_post"]

    private let library: MustacheLibrary
    private let assets: [String: PageAsset]
    private let basePath: String
    private let issuer: String
    private let logoURL: String
    private let extra: [String: String]

    /// The theme actually served at `<basePath>/theme/` (after Dex's legacy-name mapping).
    public let theme: String

    /// Loads and compiles the templates and assets.
    /// - Throws: ``PagesError`` naming the config key or file at fault, e.g. an unknown
    ///   `frontend.theme`, a missing `frontend.dir`, or a template that does not parse.
    public init(options: PageOptions) throws {
        let loader = try PagesFileLoader(frontendDir: options.frontendDir)

        let theme = options.resolvedTheme
        guard loader.themeExists(theme) else {
            let available = loader.availableThemes().joined(separator: ", ")
            throw PagesError(.unknownTheme, "frontend.theme \"\(options.theme)\" not found: no folder themes/\(theme) in frontend.dir or the bundled web files (available: \(available))")
        }

        ScalarHTMLEscaping.install()
        var library = MustacheLibrary()
        for (name, source) in try loader.templateSources() {
            do {
                library.register(try MustacheTemplate(string: ScalarHTMLEscaping.pragma + source.text), named: name)
            } catch let error as MustacheTemplate.ParserError {
                throw PagesError(.invalidTemplate, "template \(source.origin) line \(error.context.lineNumber), column \(error.context.columnNumber): \(error.error)")
            } catch {
                throw PagesError(.invalidTemplate, "template \(source.origin): \(error)")
            }
        }
        for name in Self.requiredTemplates where library.getTemplate(named: name) == nil {
            throw PagesError(.missingTemplate, "template templates/\(name).mustache is missing from frontend.dir and the bundled web files")
        }

        let basePath = options.normalizedBasePath
        self.library = library
        self.assets = try loader.assets(theme: theme)
        self.basePath = basePath
        self.issuer = options.issuerDisplayName.isEmpty ? "Fedgate" : options.issuerDisplayName
        self.logoURL = options.logoURL.flatMap { $0.isEmpty ? nil : $0 } ?? "\(basePath)/theme/logo.svg"
        self.extra = options.extra
        self.theme = theme
    }

    /// The connector chooser, sorted case-insensitively by display name as on Dex's login page.
    public func login(connectors: [ConnectorLink]) -> String {
        let sorted = connectors.sorted {
            let (a, b) = ($0.name.lowercased(), $1.name.lowercased())
            return a != b ? a < b : $0.id < $1.id
        }
        return render("login", title: "Log in", [
            "connectors": sorted.map { ["id": $0.id, "name": $0.name, "type": $0.type, "url": $0.url] },
            "hasConnectors": !sorted.isEmpty,
        ])
    }

    /// The username/password form for a password connector (LDAP, the local password DB).
    /// - Parameters:
    ///   - prompt: the connector's username label (Dex's `Prompt()`, e.g. "Email" or "Username").
    ///   - invalid: the last attempt failed; shows Dex's "Invalid <prompt> and password."
    ///   - message: a more specific error (e.g. a rate-limit notice) shown in the same box instead.
    ///   - backURL: the connector chooser, when there is more than one connector.
    public func password(postURL: String, username: String, prompt: String, invalid: Bool, message: String?, backURL: String?) -> String {
        let prompt = prompt.isEmpty ? "Username" : prompt
        let errorText = message.flatMap { $0.isEmpty ? nil : $0 } ?? (invalid ? "Invalid \(prompt) and password." : nil)
        var context: [String: Any] = [
            "postURL": postURL,
            "username": username,
            "prompt": prompt,
            "hasError": errorText != nil,
            "hasBackURL": backURL.map { !$0.isEmpty } ?? false,
        ]
        if let errorText { context["errorText"] = errorText }
        if let backURL { context["backURL"] = backURL }
        return render("password", title: "Log in", context)
    }

    /// The consent screen. `hmac` binds the form to the auth request (Dex's `HMACKey`), so a
    /// forged POST with another request ID is refused by the approval handler.
    public func approval(clientName: String, scopes: [String], authReqID: String, hmac: String, postURL: String) -> String {
        let descriptions = Self.scopeDescriptions(scopes)
        return render("approval", title: "Grant Access", [
            "clientName": clientName,
            "scopes": descriptions,
            "hasScopes": !descriptions.isEmpty,
            "authReqID": authReqID,
            "hmac": hmac,
            "postURL": postURL,
        ])
    }

    /// An error page. `title` is short (Dex uses the HTTP status text); `message` explains.
    public func error(title: String, message: String) -> String {
        render("error", title: title, ["title": title, "message": message])
    }

    /// The page for `redirect_uri=urn:ietf:wg:oauth:2.0:oob`: the user copies the code by hand.
    public func oob(code: String) -> String {
        render("oob", title: "Login Successful", ["code": code])
    }

    /// A SAML 2.0 HTTP-POST binding form (saml-bindings-2.0-os §3.5). It submits itself via
    /// `static/autosubmit.js` and keeps a visible Continue button for browsers without JavaScript.
    public func samlPost(actionURL: String, samlRequest: String, relayState: String) -> String {
        render("saml_post", title: "Redirecting", [
            "actionURL": actionURL,
            "samlRequest": samlRequest,
            "relayState": relayState,
        ])
    }

    /// A static file: `static/<file>` from `static/`, `theme/<file>` from `themes/<theme>/`.
    /// Returns nil for anything else, including absolute paths, `..`, `.` and hidden files, so a
    /// request can never reach outside the web folders.
    public func asset(_ path: String) -> PageAsset? {
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        guard components.count >= 2, components.allSatisfy({ PagesFileLoader.isSafeComponent(String($0)) }) else {
            return nil
        }
        return assets[path]
    }

    /// Values every template can use: the header's logo and name, asset links, `frontend.extra`.
    private func render(_ name: String, title: String, _ values: [String: Any]) -> String {
        var context: [String: Any] = [
            "basePath": basePath,
            "issuer": issuer,
            "logoURL": logoURL,
            "extra": extra,
            "theme": theme,
            "pageTitle": title,
            "pageID": name,
        ]
        context.merge(values) { _, new in new }
        // Every required template was checked in init, so the lookup cannot fail.
        return library.render(context, withTemplate: name) ?? ""
    }
}

/// HTML escaping by Unicode scalar for every template, bundled or from `frontend.dir`.
///
/// swift-mustache's own HTML escaping looks characters up one `Character` (grapheme cluster) at
/// a time, so `"` followed by a combining mark (U+0301) is one character that is not in its
/// table and goes out raw: a posted username could close the `value="…"` attribute and add
/// event handlers (reflected XSS). Browsers parse by code point, so escaping must too. The
/// replacement is registered as the `HTML` content type, and every template is compiled with
/// the pragma selecting it (the library's default context would use its own escaper).
enum ScalarHTMLEscaping: MustacheContentType {
    case html

    /// Put in front of every template; it renders as nothing and keeps line numbers as they are.
    static let pragma = "{{% CONTENT_TYPE: HTML }}"

    static func install() { MustacheContentTypes.register(ScalarHTMLEscaping.html, named: "HTML") }

    func escapeText(_ text: String) -> String { Self.escape(text) }

    static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "&": escaped += "&amp;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
