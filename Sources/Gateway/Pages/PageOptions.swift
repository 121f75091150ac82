/// How the login pages look and where they live: Dex's `frontend` config block plus the issuer path.
///
/// Mirrors Dex's `server.WebConfig` (`frontend: {dir, theme, issuer, logoURL, extra}`), so a Dex
/// configuration ports over key for key.
public struct PageOptions: Sendable {
    /// `frontend.dir`: a directory with the bundled layout (`templates/`, `static/`, `themes/`).
    /// Each file found there replaces the bundled file of the same relative path; everything else
    /// falls back to the bundled copy, so an operator can override just one template or one logo.
    public var frontendDir: String?

    /// `frontend.theme`: a folder under `themes/` served at `<basePath>/theme/`.
    /// `"light"` (the default) and `"dark"` are bundled; Dex's legacy names `coreos` and
    /// `tectonic` mean `light`, as in Dex.
    public var theme: String

    /// `frontend.issuer`: the name shown in the page header and titles.
    public var issuerDisplayName: String

    /// `frontend.logoURL`: the header logo. Defaults to `<basePath>/theme/logo.svg`.
    public var logoURL: String?

    /// `frontend.extra`: free-form values that custom templates read as `{{extra.<key>}}`.
    public var extra: [String: String]

    /// The issuer URL's path (`"/dex"`, or `""` at the root). Every link and asset is under it,
    /// because Dex mounts all of its routes below the issuer path.
    public var basePath: String

    public init(
        frontendDir: String? = nil,
        theme: String = "light",
        issuerDisplayName: String = "Fedgate",
        logoURL: String? = nil,
        extra: [String: String] = [:],
        basePath: String = ""
    ) {
        self.frontendDir = frontendDir
        self.theme = theme
        self.issuerDisplayName = issuerDisplayName
        self.logoURL = logoURL
        self.extra = extra
        self.basePath = basePath
    }

    /// The theme folder to use: empty means the default, and Dex's legacy names map to `light`
    /// (`server/server.go`: "coreos" and "tectonic" were renamed).
    var resolvedTheme: String {
        switch theme {
        case "", "coreos", "tectonic": "light"
        default: theme
        }
    }

    /// `basePath` without trailing slashes, so `"\(basePath)/static/main.css"` never doubles one.
    var normalizedBasePath: String {
        var path = Substring(basePath)
        while path.hasSuffix("/") { path = path.dropLast() }
        return String(path)
    }
}
