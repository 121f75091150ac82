import FedgateCore
import Foundation

// Object types persisted by every backend. Field names follow Dex's `storage/storage.go`
// (lowerCamel in JSON) so data can be copied between Dex and Fedgate stores.

/// An OAuth2 client (Dex `storage.Client`).
public struct Client: Codable, Sendable, Equatable {
    public var id: String
    public var secret: String
    public var redirectURIs: [String]
    public var trustedPeers: [String]
    public var isPublic: Bool
    public var name: String
    public var logoURL: String

    public init(id: String, secret: String = "", redirectURIs: [String] = [], trustedPeers: [String] = [],
                isPublic: Bool = false, name: String = "", logoURL: String = "") {
        self.id = id; self.secret = secret; self.redirectURIs = redirectURIs; self.trustedPeers = trustedPeers
        self.isPublic = isPublic; self.name = name; self.logoURL = logoURL
    }
}

/// PKCE parameters carried from `/auth` to `/token` (RFC 7636).
public struct PKCE: Codable, Sendable, Equatable {
    public var codeChallenge: String
    public var codeChallengeMethod: String
    public init(codeChallenge: String = "", codeChallengeMethod: String = "") {
        self.codeChallenge = codeChallenge; self.codeChallengeMethod = codeChallengeMethod
    }
}

/// A login in progress, from `/auth` until the code is issued (Dex `storage.AuthRequest`).
public struct AuthRequest: Codable, Sendable, Equatable {
    public var id: String
    public var clientID: String
    public var responseTypes: [String]
    public var scopes: [String]
    public var redirectURI: String
    public var nonce: String
    public var state: String
    /// Show the approval screen even if the config skips it (`prompt=consent`, `approval_prompt=force`).
    public var forceApprovalPrompt: Bool
    public var expiry: Date
    public var loggedIn: Bool
    public var claims: Claims?
    public var connectorID: String
    public var connectorData: Data?
    public var pkce: PKCE
    /// Binds the browser that finished the login to this request (Dex's HMACKey).
    public var hmacKey: Data
    /// `prompt` values (space separated): none, login, consent, select_account.
    public var prompt: String
    /// `max_age` in seconds, or nil.
    public var maxAge: Int?
    /// When the user authenticated upstream (for `auth_time`).
    public var authTime: Date?

    public init(id: String, clientID: String, responseTypes: [String] = ["code"], scopes: [String] = [],
                redirectURI: String, nonce: String = "", state: String = "", forceApprovalPrompt: Bool = false,
                expiry: Date, loggedIn: Bool = false, claims: Claims? = nil, connectorID: String = "",
                connectorData: Data? = nil, pkce: PKCE = PKCE(), hmacKey: Data = Data(), prompt: String = "",
                maxAge: Int? = nil, authTime: Date? = nil) {
        self.id = id; self.clientID = clientID; self.responseTypes = responseTypes; self.scopes = scopes
        self.redirectURI = redirectURI; self.nonce = nonce; self.state = state
        self.forceApprovalPrompt = forceApprovalPrompt; self.expiry = expiry; self.loggedIn = loggedIn
        self.claims = claims; self.connectorID = connectorID; self.connectorData = connectorData
        self.pkce = pkce; self.hmacKey = hmacKey; self.prompt = prompt; self.maxAge = maxAge; self.authTime = authTime
    }
}

/// An authorization code (Dex `storage.AuthCode`).
public struct AuthCode: Codable, Sendable, Equatable {
    public var id: String
    public var clientID: String
    public var redirectURI: String
    public var nonce: String
    public var scopes: [String]
    public var connectorID: String
    public var connectorData: Data?
    public var claims: Claims
    public var expiry: Date
    public var pkce: PKCE
    public var authTime: Date?

    public init(id: String, clientID: String, redirectURI: String, nonce: String = "", scopes: [String] = [],
                connectorID: String, connectorData: Data? = nil, claims: Claims, expiry: Date,
                pkce: PKCE = PKCE(), authTime: Date? = nil) {
        self.id = id; self.clientID = clientID; self.redirectURI = redirectURI; self.nonce = nonce
        self.scopes = scopes; self.connectorID = connectorID; self.connectorData = connectorData
        self.claims = claims; self.expiry = expiry; self.pkce = pkce; self.authTime = authTime
    }
}

/// A refresh token (Dex `storage.RefreshToken`).
///
/// The record's `id` is stable for the life of the login; `token` rotates on every use.
/// A record is therefore one *token family*: presenting an old `token` after the reuse
/// interval revokes the whole record.
public struct RefreshToken: Codable, Sendable, Equatable {
    public var id: String
    /// The current secret. The client holds `DexEncoding.refreshToken(id:token:)`.
    public var token: String
    /// The secret that was current before the last rotation (accepted within `reuseInterval`).
    public var obsoleteToken: String
    public var createdAt: Date
    public var lastUsed: Date
    public var clientID: String
    public var connectorID: String
    public var connectorData: Data?
    public var claims: Claims
    public var scopes: [String]
    public var nonce: String
    /// The authorization code that created this family, if any (code reuse revokes its tokens).
    public var authCodeID: String
    /// When the upstream user authenticated (carried into refreshed ID tokens as `auth_time`).
    public var authTime: Date?

    public init(id: String, token: String, obsoleteToken: String = "", createdAt: Date, lastUsed: Date,
                clientID: String, connectorID: String, connectorData: Data? = nil, claims: Claims,
                scopes: [String] = [], nonce: String = "", authCodeID: String = "", authTime: Date? = nil) {
        self.id = id; self.token = token; self.obsoleteToken = obsoleteToken; self.createdAt = createdAt
        self.lastUsed = lastUsed; self.clientID = clientID; self.connectorID = connectorID
        self.connectorData = connectorData; self.claims = claims; self.scopes = scopes; self.nonce = nonce
        self.authCodeID = authCodeID; self.authTime = authTime
    }
}

/// A reference from an offline session to one refresh token (Dex `storage.RefreshTokenRef`).
///
/// `lastUsed` is written when the token is created; the refresh token record holds the
/// authoritative `lastUsed`, so a refresh costs one storage transaction, not two.
public struct RefreshTokenRef: Codable, Sendable, Equatable {
    public var id: String
    public var clientID: String
    public var createdAt: Date
    public var lastUsed: Date
    public init(id: String, clientID: String, createdAt: Date, lastUsed: Date) {
        self.id = id; self.clientID = clientID; self.createdAt = createdAt; self.lastUsed = lastUsed
    }
}

/// All refresh tokens of one user through one connector (Dex `storage.OfflineSessions`).
///
/// Unlike Dex, `refresh` is keyed by refresh token ID, not client ID, so a user may hold
/// several tokens for the same client (one per device).
public struct OfflineSession: Codable, Sendable, Equatable {
    public var userID: String
    public var connectorID: String
    public var refresh: [String: RefreshTokenRef]
    public var connectorData: Data?
    public init(userID: String, connectorID: String, refresh: [String: RefreshTokenRef] = [:], connectorData: Data? = nil) {
        self.userID = userID; self.connectorID = connectorID; self.refresh = refresh; self.connectorData = connectorData
    }
}

/// A local user of the password DB (Dex `storage.Password`). Keyed by lower-cased email.
public struct Password: Codable, Sendable, Equatable {
    public var email: String
    /// The bcrypt hash, as text (`$2a$10$...`).
    public var hash: String
    public var username: String
    public var name: String
    public var preferredUsername: String
    public var emailVerified: Bool
    public var userID: String
    public var groups: [String]
    public init(email: String, hash: String, username: String, name: String = "", preferredUsername: String = "",
                emailVerified: Bool = true, userID: String, groups: [String] = []) {
        self.email = email; self.hash = hash; self.username = username; self.name = name
        self.preferredUsername = preferredUsername; self.emailVerified = emailVerified
        self.userID = userID; self.groups = groups
    }
}

/// A connector stored in storage (Dex `storage.Connector`). `config` is the JSON of its config block.
public struct ConnectorRecord: Codable, Sendable, Equatable {
    public var id: String
    public var type: String
    public var name: String
    public var resourceVersion: String
    public var config: Data
    public var grantTypes: [String]
    public init(id: String, type: String, name: String, resourceVersion: String = "", config: Data = Data(), grantTypes: [String] = []) {
        self.id = id; self.type = type; self.name = name; self.resourceVersion = resourceVersion
        self.config = config; self.grantTypes = grantTypes
    }
}

/// One signing key pair. `privateKeyPEM` is PKCS#8 PEM; `publicJWK` is the published JWK JSON.
public struct SigningKey: Codable, Sendable, Equatable {
    public var kid: String
    public var algorithm: String
    public var privateKeyPEM: String
    public var publicJWK: String
    public init(kid: String, algorithm: String, privateKeyPEM: String, publicJWK: String) {
        self.kid = kid; self.algorithm = algorithm; self.privateKeyPEM = privateKeyPEM; self.publicJWK = publicJWK
    }
}

/// A retired public key kept in `/keys` until the last token it signed expires.
public struct VerificationKey: Codable, Sendable, Equatable {
    public var kid: String
    public var publicJWK: String
    public var expiry: Date
    public init(kid: String, publicJWK: String, expiry: Date) {
        self.kid = kid; self.publicJWK = publicJWK; self.expiry = expiry
    }
}

/// The key set singleton (Dex `storage.Keys`), plus a pre-published next key (fixes Dex #2759):
/// the next key appears in `/keys` a full rotation period before it signs anything.
public struct Keys: Codable, Sendable, Equatable {
    public var signingKey: SigningKey?
    public var nextSigningKey: SigningKey?
    public var verificationKeys: [VerificationKey]
    public var nextRotation: Date
    public init(signingKey: SigningKey? = nil, nextSigningKey: SigningKey? = nil, verificationKeys: [VerificationKey] = [],
                nextRotation: Date = Date(timeIntervalSince1970: 0)) {
        self.signingKey = signingKey; self.nextSigningKey = nextSigningKey
        self.verificationKeys = verificationKeys; self.nextRotation = nextRotation
    }
}

/// RFC 8628 device authorization request (Dex `storage.DeviceRequest`). Keyed by user code.
public struct DeviceRequest: Codable, Sendable, Equatable {
    public var userCode: String
    public var deviceCode: String
    public var clientID: String
    public var clientSecret: String
    public var scopes: [String]
    public var expiry: Date
    public init(userCode: String, deviceCode: String, clientID: String, clientSecret: String = "", scopes: [String] = [], expiry: Date) {
        self.userCode = userCode; self.deviceCode = deviceCode; self.clientID = clientID
        self.clientSecret = clientSecret; self.scopes = scopes; self.expiry = expiry
    }
}

/// RFC 8628 device token state (Dex `storage.DeviceToken`). Keyed by device code.
public struct DeviceToken: Codable, Sendable, Equatable {
    public var deviceCode: String
    public var status: String
    public var token: String
    public var expiry: Date
    public var lastRequestTime: Date
    public var pollIntervalSeconds: Int
    public var pkce: PKCE
    public init(deviceCode: String, status: String, token: String = "", expiry: Date, lastRequestTime: Date,
                pollIntervalSeconds: Int = 5, pkce: PKCE = PKCE()) {
        self.deviceCode = deviceCode; self.status = status; self.token = token; self.expiry = expiry
        self.lastRequestTime = lastRequestTime; self.pollIntervalSeconds = pollIntervalSeconds; self.pkce = pkce
    }
}

/// Failed password attempts for one key: a username at a connector (`user:<connector>:<name>`)
/// or a client address (`ip:<address>`). Kept in storage so every replica enforces one limit.
public struct LoginThrottle: Codable, Sendable, Equatable {
    public var key: String
    /// Failures counted since `windowStart`.
    public var failures: Int
    public var windowStart: Date
    /// Attempts before this instant are refused without checking the password.
    public var lockedUntil: Date?
    /// When the record may be forgotten (garbage collection).
    public var expiry: Date
    public init(key: String, failures: Int = 0, windowStart: Date, lockedUntil: Date? = nil, expiry: Date) {
        self.key = key; self.failures = failures; self.windowStart = windowStart
        self.lockedUntil = lockedUntil; self.expiry = expiry
    }
}

/// What one garbage collection pass removed.
public struct GarbageCollectionResult: Sendable, Equatable {
    public var authRequests = 0
    public var authCodes = 0
    public var deviceRequests = 0
    public var deviceTokens = 0
    public var refreshTokens = 0
    public var offlineSessions = 0
    public var loginThrottles = 0
    public init() {}
    public var total: Int { authRequests + authCodes + deviceRequests + deviceTokens + refreshTokens + offlineSessions + loginThrottles }
}

/// When refresh tokens expire, so garbage collection can remove dead ones.
/// A zero interval disables that limit (Dex semantics).
public struct RefreshExpiryPolicy: Sendable, Equatable {
    public var absoluteLifetime: TimeInterval
    public var validIfNotUsedFor: TimeInterval
    public init(absoluteLifetime: TimeInterval = 0, validIfNotUsedFor: TimeInterval = 0) {
        self.absoluteLifetime = absoluteLifetime; self.validIfNotUsedFor = validIfNotUsedFor
    }
    public func isExpired(_ token: RefreshToken, now: Date) -> Bool {
        if absoluteLifetime > 0, now.timeIntervalSince(token.createdAt) > absoluteLifetime { return true }
        if validIfNotUsedFor > 0, now.timeIntervalSince(token.lastUsed) > validIfNotUsedFor { return true }
        return false
    }
}
