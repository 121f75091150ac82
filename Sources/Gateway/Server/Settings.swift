import Foundation

/// What the flows read from the config, resolved once at start (durations in seconds).
struct Settings: Sendable {
    /// The issuer exactly as configured, trailing slash included: it is the tokens' `iss` and
    /// discovery's `issuer`, which verifiers (kube-apiserver, EKS) compare byte for byte with
    /// the URL they were given, as Dex keeps it.
    var issuer: String
    var issuerPath: String
    var idTokenLifetime: TimeInterval
    var authRequestLifetime: TimeInterval
    var authCodeLifetime: TimeInterval
    var refresh: RefreshSettings
    var responseTypes: Set<String>
    var grantTypes: Set<String>
    var skipApprovalScreen: Bool
    var alwaysShowLoginScreen: Bool
    var passwordConnector: String?
    var pkceEnforced: Bool
    var pkceMethods: [String]
    var allowedOrigins: [String]
    var allowedHeaders: [String]
    var extraHeaders: [(String, String)]
    var signingAlgorithm: String
    var passwordPolicy: PasswordPolicySettings
    /// `web.clientRemoteIP`: the client's address behind trusted proxies (nil: the peer's).
    var clientRemoteIP: ClientRemoteIPSettings? = nil
    /// Static clients' `allowedConnectors` (only clients that restrict; others may use any connector).
    var allowedConnectors: [String: Set<String>] = [:]

    struct RefreshSettings: Sendable {
        var disableRotation: Bool
        var reuseInterval: TimeInterval
        var validIfNotUsedFor: TimeInterval
        var absoluteLifetime: TimeInterval
    }

    /// Largest accepted parameter value; real ones are far shorter (RFC 6749 leaves it open).
    static let maxParameterLength = 4096

    /// An endpoint's absolute URL: the issuer without its trailing slash, then `path`.
    func url(_ path: String) -> String { (issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer) + path }
    func path(_ path: String) -> String { issuerPath + path }
}
