import Foundation
import Yams

/// OAuth 2.0 behaviour (`oauth2:`).
public struct OAuth2Settings: Sendable, Equatable {
    /// The grant types the token endpoint accepts and discovery advertises, resolved the way Dex's
    /// `server.go` does: configured `grantTypes` (or every grant when empty) intersected with
    /// what is available — `implicit` only if a response type includes `token`, `password` only
    /// with a `passwordConnector`. Grants Dex has and Fedgate does not implement yet (device
    /// code, token exchange, client credentials) are accepted in the config, so a Dex file loads
    /// unchanged, but never offered. Sorted, as Dex advertises them.
    public var grantTypes: [String]
    /// Allowed `response_type` values (default `["code"]`), each a canonical space-separated set
    /// such as `code id_token` (RFC 6749 §3.1.1, OpenID Connect Core §3).
    public var responseTypes: [String]
    public var skipApprovalScreen: Bool
    /// Show the connector list even when only one connector exists.
    public var alwaysShowLoginScreen: Bool
    /// Connector id used for the resource owner password grant (RFC 6749 §4.3); nil disables it.
    public var passwordConnector: String?
    public var pkce: PKCESettings
    /// Brute-force protection for password logins (a Fedgate extension, `oauth2.passwordPolicy`).
    public var passwordPolicy: PasswordPolicySettings = PasswordPolicySettings()

    public init(grantTypes: [String] = OAuth2Settings.defaultGrantTypes, responseTypes: [String] = ["code"],
                skipApprovalScreen: Bool = false, alwaysShowLoginScreen: Bool = false,
                passwordConnector: String? = nil, pkce: PKCESettings = PKCESettings(),
                passwordPolicy: PasswordPolicySettings = PasswordPolicySettings()) {
        self.grantTypes = grantTypes; self.responseTypes = responseTypes; self.skipApprovalScreen = skipApprovalScreen
        self.alwaysShowLoginScreen = alwaysShowLoginScreen; self.passwordConnector = passwordConnector; self.pkce = pkce
        self.passwordPolicy = passwordPolicy
    }

    public static let authorizationCode = "authorization_code"
    public static let refreshToken = "refresh_token"
    public static let deviceCode = "urn:ietf:params:oauth:grant-type:device_code"
    public static let tokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
    public static let implicit = "implicit"
    public static let password = "password"
    public static let clientCredentials = "client_credentials"

    /// Every grant Dex knows, i.e. what `grantTypes` may list.
    public static let knownGrantTypes = [authorizationCode, refreshToken, deviceCode, tokenExchange,
                                         implicit, password, clientCredentials]
    /// What is offered with no `oauth2` section: Dex's defaults that Fedgate implements.
    public static let defaultGrantTypes = [authorizationCode, refreshToken].sorted()
}

/// Brute-force protection on every password form and the password grant (Dex #3509, #1671).
///
/// Failures are counted per username (per connector) and per client address within `window`.
/// Once a key reaches its limit it is locked for `lockout`, doubling with each further failure
/// up to `maxLockout`; while locked, attempts are answered 429 without checking the password.
/// The state lives in storage, so every replica enforces the same limits. Unknown usernames are
/// counted exactly like known ones, so the limiter never reveals whether a user exists.
public struct PasswordPolicySettings: Sendable, Equatable {
    public var maxFailures: Int
    public var maxFailuresPerIP: Int
    public var window: TimeInterval
    public var lockout: TimeInterval
    public var maxLockout: TimeInterval

    public init(maxFailures: Int = 5, maxFailuresPerIP: Int = 50, window: TimeInterval = 15 * 60,
                lockout: TimeInterval = 30, maxLockout: TimeInterval = 15 * 60) {
        self.maxFailures = maxFailures; self.maxFailuresPerIP = maxFailuresPerIP; self.window = window
        self.lockout = lockout; self.maxLockout = maxLockout
    }
}

/// PKCE policy (RFC 7636; Dex `oauth2.pkce`).
public struct PKCESettings: Sendable, Equatable {
    /// Reject authorization code requests without a `code_challenge`.
    public var enforce: Bool
    /// Methods accepted and advertised (default `["S256", "plain"]`).
    public var codeChallengeMethodsSupported: [String]

    public init(enforce: Bool = false, codeChallengeMethodsSupported: [String] = ["S256", "plain"]) {
        self.enforce = enforce
        self.codeChallengeMethodsSupported = codeChallengeMethodsSupported
    }

    static let methods = ["S256", "plain"]
}

extension OAuth2Settings {
    private struct Raw: Decodable {
        var grantTypes: [String]?
        var responseTypes: [String]?
        var skipApprovalScreen: Bool?
        var alwaysShowLoginScreen: Bool?
        var passwordConnector: String?
        var pkce: RawPKCE?
        var passwordPolicy: RawPasswordPolicy?
    }

    private struct RawPasswordPolicy: Decodable {
        var maxFailures: Int?
        var maxFailuresPerIP: Int?
        var window: String?
        var lockout: String?
        var maxLockout: String?
    }

    private struct RawPKCE: Decodable {
        var enforce: Bool?
        var codeChallengeMethodsSupported: [String]?
    }

    private static let responseTypeWords = ["code", "id_token", "token"]

    /// Validates values; whether `passwordConnector` names a connector is checked by the caller,
    /// which knows the connector list.
    static func resolve(_ node: Node?, parser: inout ConfigParser) -> OAuth2Settings? {
        guard let raw = parser.decodeSection(Raw.self, from: node, at: "oauth2", empty: Raw()) else { return nil }
        let before = parser.problems.count

        var responseTypes: [String] = []
        for (offset, value) in (raw.responseTypes ?? ["code"]).enumerated() {
            let words = value.split(separator: " ").map(String.init)
            guard !words.isEmpty, Set(words).count == words.count, words.allSatisfy(responseTypeWords.contains) else {
                parser.report(ConfigPath.index("oauth2.responseTypes", offset),
                              "unsupported response type \"\(value)\" (supported: code, id_token, token and combinations such as \"code id_token\")")
                continue
            }
            let canonical = responseTypeWords.filter(words.contains).joined(separator: " ")
            if !responseTypes.contains(canonical) { responseTypes.append(canonical) }
        }
        if raw.responseTypes?.isEmpty == true { parser.report("oauth2.responseTypes", "must not be empty") }

        let configured = raw.grantTypes ?? []
        parser.requireMembers(configured, of: knownGrantTypes, at: "oauth2.grantTypes", what: "grant type")

        let pkce = PKCESettings(enforce: raw.pkce?.enforce ?? false,
                                codeChallengeMethodsSupported: raw.pkce?.codeChallengeMethodsSupported ?? PKCESettings.methods)
        parser.requireMembers(pkce.codeChallengeMethodsSupported, of: PKCESettings.methods,
                              at: "oauth2.pkce.codeChallengeMethodsSupported", what: "code challenge method")
        if pkce.codeChallengeMethodsSupported.isEmpty {
            parser.report("oauth2.pkce.codeChallengeMethodsSupported", "must not be empty")
        }
        let rawPolicy = raw.passwordPolicy ?? RawPasswordPolicy()
        let defaults = PasswordPolicySettings()
        var policy = PasswordPolicySettings(
            maxFailures: rawPolicy.maxFailures ?? defaults.maxFailures,
            maxFailuresPerIP: rawPolicy.maxFailuresPerIP ?? defaults.maxFailuresPerIP,
            window: parser.duration(rawPolicy.window, at: "oauth2.passwordPolicy.window", default: defaults.window),
            lockout: parser.duration(rawPolicy.lockout, at: "oauth2.passwordPolicy.lockout", default: defaults.lockout),
            maxLockout: parser.duration(rawPolicy.maxLockout, at: "oauth2.passwordPolicy.maxLockout", default: defaults.maxLockout)
        )
        if policy.maxFailures < 0 { parser.report("oauth2.passwordPolicy.maxFailures", "must not be negative (0 disables the per-username limit)") }
        if policy.maxFailuresPerIP < 0 { parser.report("oauth2.passwordPolicy.maxFailuresPerIP", "must not be negative (0 disables the per-address limit)") }
        if policy.maxLockout < policy.lockout { policy.maxLockout = policy.lockout }
        guard parser.problems.count == before else { return nil }

        let passwordConnector = nonEmpty(raw.passwordConnector)
        // Dex's allSupportedGrants less what Fedgate does not implement, then the configured
        // filter (unknown ones were reported above; known but unavailable ones are dropped
        // silently, as Dex does).
        var available = [authorizationCode, refreshToken]
        if responseTypes.contains(where: { $0.split(separator: " ").contains("token") }) { available.append(implicit) }
        if passwordConnector != nil { available.append(password) }
        let grants = configured.isEmpty ? available : available.filter(configured.contains)

        return OAuth2Settings(grantTypes: grants.sorted(), responseTypes: responseTypes,
                              skipApprovalScreen: raw.skipApprovalScreen ?? false,
                              alwaysShowLoginScreen: raw.alwaysShowLoginScreen ?? false,
                              passwordConnector: passwordConnector, pkce: pkce, passwordPolicy: policy)
    }
}
