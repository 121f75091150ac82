import Foundation
import Yams

/// Lifetimes (`expiry:`), all in seconds. Values are Go durations in YAML ("24h", "30m", "1.5h").
public struct ExpirySettings: Sendable, Equatable {
    /// Deprecated in Dex in favour of `signer.config.keysRotationPeriod`; still honoured as its default.
    public var signingKeys: TimeInterval
    /// ID and access tokens (one lifetime for both, as in Dex).
    public var idTokens: TimeInterval
    /// How long a user has to finish logging in after `/auth`.
    public var authRequests: TimeInterval
    /// Device authorization requests (RFC 8628 `expires_in`).
    public var deviceRequests: TimeInterval
    /// Authorization codes. Dex hard-codes 30 minutes; `expiry.authCodes` is a Fedgate extension.
    public var authCodes: TimeInterval
    public var refreshTokens: RefreshTokenExpiry

    public init(signingKeys: TimeInterval = 6 * 3_600, idTokens: TimeInterval = 24 * 3_600,
                authRequests: TimeInterval = 24 * 3_600, deviceRequests: TimeInterval = 5 * 60,
                authCodes: TimeInterval = 30 * 60, refreshTokens: RefreshTokenExpiry = RefreshTokenExpiry()) {
        self.signingKeys = signingKeys; self.idTokens = idTokens; self.authRequests = authRequests
        self.deviceRequests = deviceRequests; self.authCodes = authCodes; self.refreshTokens = refreshTokens
    }
}

/// Refresh token policy (`expiry.refreshTokens`, Dex `server/refreshhandlers.go` `RefreshTokenPolicy`).
public struct RefreshTokenExpiry: Sendable, Equatable {
    /// Keep handing out the same refresh token instead of rotating it on every use.
    public var disableRotation: Bool
    /// How long a just-rotated token is still accepted (and answered with the current one), so two
    /// tabs refreshing at once do not log the user out. Dex's default is 3 seconds.
    public var reuseInterval: TimeInterval
    /// Expire a token not used for this long; 0 = never.
    public var validIfNotUsedFor: TimeInterval
    /// Expire a token this long after the login that created it, used or not; 0 = never.
    public var absoluteLifetime: TimeInterval

    public init(disableRotation: Bool = false, reuseInterval: TimeInterval = 3,
                validIfNotUsedFor: TimeInterval = 0, absoluteLifetime: TimeInterval = 0) {
        self.disableRotation = disableRotation; self.reuseInterval = reuseInterval
        self.validIfNotUsedFor = validIfNotUsedFor; self.absoluteLifetime = absoluteLifetime
    }
}

extension ExpirySettings {
    private struct Raw: Decodable {
        var signingKeys: String?
        var idTokens: String?
        var authRequests: String?
        var deviceRequests: String?
        var authCodes: String?
        var refreshTokens: RawRefresh?
    }

    private struct RawRefresh: Decodable {
        var disableRotation: Bool?
        var reuseInterval: String?
        var validIfNotUsedFor: String?
        var absoluteLifetime: String?
    }

    /// Parses every duration, reporting each bad one at its own path (`expiry.idTokens: invalid duration ...`).
    static func resolve(_ node: Node?, parser: inout ConfigParser) -> ExpirySettings? {
        guard let raw = parser.decodeSection(Raw.self, from: node, at: "expiry", empty: Raw()) else { return nil }
        let defaults = ExpirySettings()
        let before = parser.problems.count
        var expiry = ExpirySettings(
            signingKeys: parser.duration(raw.signingKeys, at: "expiry.signingKeys", default: defaults.signingKeys),
            idTokens: parser.duration(raw.idTokens, at: "expiry.idTokens", default: defaults.idTokens),
            authRequests: parser.duration(raw.authRequests, at: "expiry.authRequests", default: defaults.authRequests),
            deviceRequests: parser.duration(raw.deviceRequests, at: "expiry.deviceRequests", default: defaults.deviceRequests),
            authCodes: parser.duration(raw.authCodes, at: "expiry.authCodes", default: defaults.authCodes))
        if let refresh = raw.refreshTokens {
            let path = "expiry.refreshTokens"
            let fallback = RefreshTokenExpiry()
            expiry.refreshTokens = RefreshTokenExpiry(
                disableRotation: refresh.disableRotation ?? false,
                reuseInterval: parser.duration(refresh.reuseInterval, at: "\(path).reuseInterval",
                                               default: fallback.reuseInterval, allowZero: true),
                validIfNotUsedFor: parser.duration(refresh.validIfNotUsedFor, at: "\(path).validIfNotUsedFor",
                                                   default: 0, allowZero: true),
                absoluteLifetime: parser.duration(refresh.absoluteLifetime, at: "\(path).absoluteLifetime",
                                                  default: 0, allowZero: true))
        }
        return parser.problems.count == before ? expiry : nil
    }
}
