import Connectors
import Foundation
import Yams

/// Fedgate's configuration: Dex's YAML schema (`cmd/dex/config.go`), so a Dex `config.yaml` runs
/// unchanged, plus two extensions (`expiry.authCodes`, `connectors[].claimMapping`).
///
/// Loading validates everything it can before the server starts and reports all problems at once
/// with field paths (see `ConfigErrors`). Values that Dex defaults are defaulted the same way;
/// required values are never defaulted.
public struct FedgateConfig: Sendable {
    /// The path the config came from (for messages and for resolving connector-relative files).
    public var file: String
    /// The issuer exactly as configured: it is the `iss` of every token, so it must match what
    /// clients were given, trailing slash included.
    public var issuer: String
    public var issuerURL: URL
    /// The issuer's path, which prefixes every route: "/dex" for `http://127.0.0.1:5556/dex/`,
    /// "" for a bare host. Never ends with "/".
    public var issuerPath: String
    public var storage: StorageSettings
    public var web: WebSettings
    public var telemetry: TelemetrySettings
    public var expiry: ExpirySettings
    public var logger: LoggerSettings
    public var oauth2: OAuth2Settings
    public var staticClients: [StaticClient]
    /// The connectors as declared. With `enablePasswordDB` the server adds the built-in `local`
    /// connector (name "Email") itself, as Dex does; it is not listed here.
    public var connectors: [ConnectorSettings]
    public var enablePasswordDB: Bool
    public var staticPasswords: [StaticPassword]
    public var frontend: FrontendSettings
    public var signer: SignerSettings

    /// Reads and parses the file at `path`. Reading is blocking file I/O: call this at startup,
    /// not from an event loop.
    public static func load(path: String, registry: ConnectorRegistry = .builtIn,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> FedgateConfig {
        let yaml: String
        do {
            yaml = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read as UTF-8 text" : "no such file"
            throw ConfigErrors(file: path, problems: [ConfigProblem("", "cannot read config file: \(reason)")])
        }
        return try parse(yaml: yaml, file: path, registry: registry, environment: environment)
    }

    /// Parses YAML text. `file` only labels messages. Throws `ConfigErrors` listing every problem.
    public static func parse(yaml: String, file: String, registry: ConnectorRegistry = .builtIn,
                             environment: [String: String]) throws -> FedgateConfig {
        var parser = ConfigParser(file: file, registry: registry, environment: environment)
        guard let root = parser.compose(yaml) else { throw parser.errors }
        let config = resolve(root, parser: &parser)
        guard parser.problems.isEmpty, let config else {
            if parser.problems.isEmpty { parser.report("", "internal: the config was not resolved") }
            throw parser.errors
        }
        return config
    }

    /// Applies `fedgate serve`'s address flags (Dex's `--web-http-addr`, `--web-https-addr`,
    /// `--telemetry-addr`) and checks the result as the file's own values are checked: each
    /// address must be host:port, and HTTPS needs `web.tlsCert` and `web.tlsKey`. Problems are
    /// named by flag.
    public mutating func override(webHTTP: String?, webHTTPS: String?, telemetryHTTP: String?, file: String) throws {
        var parser = ConfigParser(file: file, registry: .builtIn, environment: [:])
        for (flag, value) in [("--web-http-addr", webHTTP), ("--web-https-addr", webHTTPS), ("--telemetry-addr", telemetryHTTP)] {
            if let value, ListenAddress(value) == nil {
                parser.report(flag, "invalid address \"\(value)\" (expected host:port, e.g. 127.0.0.1:5556)")
            }
        }
        if webHTTPS != nil {
            if let cert = web.tlsCert { parser.requireFile(cert, at: "web.tlsCert") } else {
                parser.report("web.tlsCert", "required when --web-https-addr is given")
            }
            if let key = web.tlsKey { parser.requireFile(key, at: "web.tlsKey") } else {
                parser.report("web.tlsKey", "required when --web-https-addr is given")
            }
        }
        guard parser.problems.isEmpty else { throw parser.errors }
        if let webHTTP { web.http = webHTTP }
        if let webHTTPS { web.https = webHTTPS }
        if let telemetryHTTP { telemetry.http = telemetryHTTP }
    }

    /// Resolves every section independently, then the checks that span sections.
    private static func resolve(_ root: Node, parser: inout ConfigParser) -> FedgateConfig? {
        let top = root.mapping
        func section(_ key: String) -> Node? { top?[key] }

        let issuer = parser.decodeValue(String.self, from: section("issuer"), at: "issuer")
            .flatMap { resolveIssuer($0, parser: &parser) }
        // A malformed value is reported; the checks below then assume the Dex default (false).
        let enablePasswordDB = (parser.decodeValue(Bool.self, from: section("enablePasswordDB"), at: "enablePasswordDB") ?? nil) ?? false
        let storage = StorageSettings.resolve(section("storage"), parser: &parser)
        let web = WebSettings.resolve(section("web"), parser: &parser)
        let telemetry = TelemetrySettings.resolve(section("telemetry"), parser: &parser)
        let expiry = ExpirySettings.resolve(section("expiry"), parser: &parser)
        let logger = LoggerSettings.resolve(section("logger"), parser: &parser)
        let oauth2 = OAuth2Settings.resolve(section("oauth2"), parser: &parser)
        let frontend = FrontendSettings.resolve(section("frontend"), parser: &parser)
        let signer = SignerSettings.resolve(section("signer"), defaultRotation: expiry?.signingKeys ?? ExpirySettings().signingKeys,
                                            parser: &parser)

        let clients = resolveList("staticClients", section("staticClients"), key: "id", what: "client id",
                                  parser: &parser, resolve: StaticClient.resolve) { $0.id }
        let connectors = resolveList("connectors", section("connectors"), key: "id", what: "connector id",
                                     parser: &parser, resolve: ConnectorSettings.resolve) { $0.id }
        if case .sequence(let entries) = section("staticPasswords"), !entries.isEmpty, !enablePasswordDB {
            parser.report("staticPasswords", "requires enablePasswordDB: true")
        }
        let passwords = resolveList("staticPasswords", section("staticPasswords"), key: "email", what: "email",
                                    normalize: { $0.lowercased() }, parser: &parser, resolve: StaticPassword.resolve) { $0.email }

        // Rules that span sections.
        if enablePasswordDB {
            for (index, connector) in connectors.enumerated() where connector?.id == "local" && connector?.type != "local" {
                parser.report("connectors[\(index)].id", "\"local\" is reserved for the password database (enablePasswordDB: true)")
            }
        }
        if let name = oauth2?.passwordConnector,
           !connectors.contains(where: { $0?.id == name }), !(enablePasswordDB && name == "local") {
            let hint = name == "local" ? " (\"local\" needs enablePasswordDB: true)" : ""
            parser.report("oauth2.passwordConnector", "no connector with id \"\(name)\"\(hint)")
        }
        // A typo in allowedConnectors would lock the client out of every login: refuse it now.
        for (index, client) in clients.enumerated() {
            for (offset, id) in (client?.allowedConnectors ?? []).enumerated()
            where !connectors.contains(where: { $0?.id == id }) && !(enablePasswordDB && id == "local") {
                parser.report(ConfigPath.index("staticClients[\(index)].allowedConnectors", offset), "no connector with id \"\(id)\"")
            }
        }

        guard let issuer, let storage, let web, let telemetry, let expiry, let logger, let oauth2, let frontend, let signer
        else { return nil }
        return FedgateConfig(
            file: parser.file, issuer: issuer.text, issuerURL: issuer.url, issuerPath: issuer.path, storage: storage,
            web: web, telemetry: telemetry, expiry: expiry, logger: logger, oauth2: oauth2,
            staticClients: clients.compactMap { $0 }, connectors: connectors.compactMap { $0 },
            enablePasswordDB: enablePasswordDB, staticPasswords: passwords.compactMap { $0 },
            frontend: frontend, signer: signer)
    }

    /// The issuer must be an absolute http(s) URL without query or fragment (OpenID Connect
    /// Discovery 1.0 §3: "a case sensitive URL using the https scheme ... and no query or fragment
    /// components"; plain http is allowed for development, as in Dex).
    private static func resolveIssuer(_ text: String?, parser: inout ConfigParser)
        -> (text: String, url: URL, path: String)? {
        guard let text = nonEmpty(text) else {
            parser.report("issuer", "required")
            return nil
        }
        // `percentEncodedHost`, not `host`: the decoded getter runs the host through ICU's IDNA
        // (UTS #46), loading its normaliser data (about 0.5 MiB resident; issue 3), and only
        // emptiness is checked here, which encoding does not change.
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = components.percentEncodedHost, !host.isEmpty,
              let url = components.url
        else {
            parser.report("issuer", "must be an absolute http:// or https:// URL, got \"\(text)\"")
            return nil
        }
        guard components.query == nil, components.fragment == nil else {
            parser.report("issuer", "must not contain a query or fragment")
            return nil
        }
        var path = components.percentEncodedPath
        while path.hasSuffix("/") { path.removeLast() }
        return (text, url, path)
    }

    /// Resolves each entry of the list at `name` on its own, then reports repeated `key` values at
    /// `name[i].key`. Entries with other problems still count, so one pass finds both kinds.
    private static func resolveList<T>(
        _ name: String, _ node: Node?, key: String, what: String, normalize: (String) -> String = { $0 },
        parser: inout ConfigParser, resolve: (Node, String, inout ConfigParser) -> T?, identity: (T) -> String
    ) -> [T?] {
        let nodes = parser.listItems(node, at: name)
        var resolved: [T?] = []
        for (index, item) in nodes.enumerated() {
            resolved.append(resolve(item, ConfigPath.index(name, index), &parser))
        }
        let values = zip(resolved, nodes).map { entry, item in entry.map(identity) ?? scalar(key, in: item).map(normalize) }
        reportDuplicates(values, list: name, field: key, what: what, parser: &parser)
        return resolved
    }

    /// The plain text of `key` in a mapping node, if it is a non-empty scalar.
    private static func scalar(_ key: String, in node: Node) -> String? {
        guard let value = node.mapping?[key]?.scalar?.string, !value.isEmpty else { return nil }
        return value
    }

    /// Reports every repeat after the first occurrence at `list[i].field`.
    private static func reportDuplicates(_ values: [String?], list: String, field: String, what: String,
                                         parser: inout ConfigParser) {
        var seen = Set<String>()
        for (index, value) in values.enumerated() {
            guard let value else { continue }
            if !seen.insert(value).inserted {
                parser.report("\(ConfigPath.index(list, index)).\(field)", "duplicate \(what) \"\(value)\"")
            }
        }
    }
}
