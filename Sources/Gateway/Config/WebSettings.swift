import Foundation
import HTTPTypes
import Yams

/// The browser/API listener (`web:` in Dex's config).
public struct WebSettings: Sendable, Equatable {
    /// Plain HTTP address, `host:port` (Go syntax: `:5556` listens on every interface).
    public var http: String?
    /// HTTPS address; requires `tlsCert` and `tlsKey`.
    public var https: String?
    /// PEM certificate chain and key files for `https` (paths relative to the working directory).
    public var tlsCert: String?
    public var tlsKey: String?
    /// "1.2" or "1.3"; nil leaves the TLS library's default (Dex: 1.2).
    public var tlsMinVersion: String?
    public var tlsMaxVersion: String?
    /// Extra response headers (Dex: `Content-Security-Policy`, `X-Frame-Options`,
    /// `X-Content-Type-Options`, `X-XSS-Protection`, `Strict-Transport-Security`).
    public var headers: [String: String]
    /// CORS: origins allowed to call the discovery, keys, token and userinfo endpoints ("*" = any).
    public var allowedOrigins: [String]
    /// CORS: request headers allowed in addition to Dex's default `Authorization`.
    public var allowedHeaders: [String]
    /// The client's address behind proxies (`clientRemoteIP: {header, trustedProxies}`).
    public var clientRemoteIP: ClientRemoteIPSettings?

    public init(http: String? = nil, https: String? = nil, tlsCert: String? = nil, tlsKey: String? = nil,
                tlsMinVersion: String? = nil, tlsMaxVersion: String? = nil, headers: [String: String] = [:],
                allowedOrigins: [String] = [], allowedHeaders: [String] = [], clientRemoteIP: ClientRemoteIPSettings? = nil) {
        self.http = http; self.https = https; self.tlsCert = tlsCert; self.tlsKey = tlsKey
        self.tlsMinVersion = tlsMinVersion; self.tlsMaxVersion = tlsMaxVersion; self.headers = headers
        self.allowedOrigins = allowedOrigins; self.allowedHeaders = allowedHeaders
        self.clientRemoteIP = clientRemoteIP
    }

    /// `http` parsed into host and port.
    public var httpAddress: ListenAddress? { http.flatMap(ListenAddress.init) }
    /// `https` parsed into host and port.
    public var httpsAddress: ListenAddress? { https.flatMap(ListenAddress.init) }

    static let tlsVersions = ["1.2", "1.3"]
}

/// The telemetry listener (`telemetry:`): metrics and health checks on their own port.
public struct TelemetrySettings: Sendable, Equatable {
    public var http: String?
    public init(http: String? = nil) { self.http = http }
    public var httpAddress: ListenAddress? { http.flatMap(ListenAddress.init) }
}

/// A Go-style listen address, `host:port`, `:port` or `[v6]:port`.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// The host to bind; "0.0.0.0" when the address had none (`:5556`, Go's "every interface").
    public var host: String
    public var port: Int

    public init(host: String, port: Int) { self.host = host; self.port = port }

    /// Parses `text`; nil unless it has a host part (possibly empty) and a port in 0...65535.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        guard !portText.isEmpty, portText.allSatisfy(\.isASCII), let port = Int(portText), (0...65_535).contains(port) else {
            return nil
        }
        if host.hasPrefix("[") {
            guard host.hasSuffix("]"), host.count > 2 else { return nil }
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") {
            return nil  // an IPv6 literal must be bracketed
        }
        self.host = host.isEmpty ? "0.0.0.0" : host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

extension WebSettings {
    /// Headers the server writes itself on every answer (framing, connection management, `Date`,
    /// `Server`, the request ID): `web.headers` cannot set them.
    static let serverOwnedHeaders: Set<String> = [
        "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer",
        "proxy-connection", "date", "server", "x-request-id",
    ]

    /// Why a `web.headers` entry cannot be sent, or nil: a valid field name (RFC 9110 §5.1) the
    /// server does not own, and a value without control characters other than tab.
    static func headerProblem(name: String, value: String) -> String? {
        guard HTTPField.Name(name) != nil else { return "invalid header name \"\(name)\"" }
        if serverOwnedHeaders.contains(name.lowercased()) { return "\(name) is set by the server and cannot be configured" }
        if value.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F }) {
            return "the value contains a control character (line breaks are not allowed)"
        }
        return nil
    }

    private struct Raw: Decodable {
        var http: String?
        var https: String?
        var tlsCert: String?
        var tlsKey: String?
        var tlsMinVersion: String?
        var tlsMaxVersion: String?
        var headers: [String: String]?
        var allowedOrigins: [String]?
        var allowedHeaders: [String]?
        var clientRemoteIP: RawClientRemoteIP?
    }

    private struct RawClientRemoteIP: Decodable {
        var header: String?
        var trustedProxies: [String]?
    }

    /// Dex's checks (`Config.Validate`): a listener is required, HTTPS needs a cert and key, and TLS
    /// versions must be 1.2/1.3 with min <= max. Cert/key files must exist now rather than at bind.
    static func resolve(_ node: Node?, parser: inout ConfigParser) -> WebSettings? {
        guard let raw = parser.decodeSection(Raw.self, from: node, at: "web", empty: Raw()) else { return nil }
        let before = parser.problems.count
        var clientRemoteIP: ClientRemoteIPSettings?
        if let header = nonEmpty(raw.clientRemoteIP?.header) {
            var proxies: [IPPrefix] = []
            for (i, text) in (raw.clientRemoteIP?.trustedProxies ?? []).enumerated() {
                if let prefix = IPPrefix(text) { proxies.append(prefix) } else {
                    parser.report("web.clientRemoteIP.trustedProxies[\(i)]", "invalid IP address or CIDR prefix \"\(text)\" (e.g. 10.0.0.0/8)")
                }
            }
            if HTTPField.Name(header) != nil {
                clientRemoteIP = ClientRemoteIPSettings(header: header, trustedProxies: proxies)
            } else {
                parser.report("web.clientRemoteIP.header", "invalid header name \"\(header)\"")
            }
        }
        let web = WebSettings(
            http: nonEmpty(raw.http), https: nonEmpty(raw.https), tlsCert: nonEmpty(raw.tlsCert), tlsKey: nonEmpty(raw.tlsKey),
            tlsMinVersion: nonEmpty(raw.tlsMinVersion), tlsMaxVersion: nonEmpty(raw.tlsMaxVersion),
            headers: raw.headers ?? [:], allowedOrigins: raw.allowedOrigins ?? [], allowedHeaders: raw.allowedHeaders ?? [],
            clientRemoteIP: clientRemoteIP)

        if web.http == nil && web.https == nil {
            parser.report("web", "one of web.http or web.https is required")
        }
        for (name, value) in web.headers.sorted(by: { $0.key < $1.key }) {
            if let problem = headerProblem(name: name, value: value) { parser.report("web.headers.\(name)", problem) }
        }
        for (field, value) in [("web.http", web.http), ("web.https", web.https)] {
            if let value, ListenAddress(value) == nil {
                parser.report(field, "invalid address \"\(value)\" (expected host:port, e.g. 127.0.0.1:5556)")
            }
        }
        if web.https != nil {
            if let cert = web.tlsCert { parser.requireFile(cert, at: "web.tlsCert") } else {
                parser.report("web.tlsCert", "required when web.https is set")
            }
            if let key = web.tlsKey { parser.requireFile(key, at: "web.tlsKey") } else {
                parser.report("web.tlsKey", "required when web.https is set")
            }
        }
        for (field, value) in [("web.tlsMinVersion", web.tlsMinVersion), ("web.tlsMaxVersion", web.tlsMaxVersion)] {
            if let value, !tlsVersions.contains(value) {
                parser.report(field, "unsupported TLS version \"\(value)\" (supported: \(tlsVersions.joined(separator: ", ")))")
            }
        }
        if let min = web.tlsMinVersion, let max = web.tlsMaxVersion, tlsVersions.contains(min), tlsVersions.contains(max), min > max {
            parser.report("web.tlsMinVersion", "\(min) is greater than web.tlsMaxVersion \(max)")
        }
        return parser.problems.count == before ? web : nil
    }
}

extension TelemetrySettings {
    private struct Raw: Decodable {
        var http: String?
    }

    static func resolve(_ node: Node?, parser: inout ConfigParser) -> TelemetrySettings? {
        guard let raw = parser.decodeSection(Raw.self, from: node, at: "telemetry", empty: Raw()) else { return nil }
        let http = nonEmpty(raw.http)
        if let http, ListenAddress(http) == nil {
            parser.report("telemetry.http", "invalid address \"\(http)\" (expected host:port, e.g. 127.0.0.1:5558)")
            return nil
        }
        return TelemetrySettings(http: http)
    }
}

/// nil for absent or empty strings: Go's zero value "" means "not set" throughout Dex's config.
func nonEmpty(_ value: String?) -> String? {
    guard let value, !value.isEmpty else { return nil }
    return value
}
