import Crypto
import FedgateCore
import Foundation
import JWTKit

/// The claims of a Fedgate ID token and of its access token (Dex signs both with the same shape).
///
/// Member names follow OIDC Core §2 and §5.1 and Dex's `idTokenClaims`. Times are NumericDate
/// (RFC 7519 §2): whole seconds, so the initialiser truncates them and a round trip compares equal.
/// Property names are the claim names (camel-cased where the claim has an underscore).
/// `aud` is a list in Swift; on the wire it is a single string when there is exactly one audience
/// (what Dex emits and many relying parties expect) and an array otherwise (RFC 7519 §4.1.3).
/// Optional members that are nil are left out of the JSON.
public struct TokenClaims: JWTPayload, Equatable {
    public var iss: String
    public var sub: String
    public var aud: [String]
    public var azp: String?
    public var exp: Date
    public var iat: Date
    public var nonce: String?
    public var atHash: String?
    public var cHash: String?
    public var authTime: Date?
    public var email: String?
    public var emailVerified: Bool?
    public var name: String?
    public var preferredUsername: String?
    public var groups: [String]?
    public var federatedClaims: FederatedClaims?
    /// Space-separated scopes granted, for access tokens (RFC 9068 §2.2.3, RFC 8693 §4.2); Dex omits it.
    public var scope: String?
    /// Access tokens: a one-way handle on the grant (token family, or code) they came from, so
    /// introspection and userinfo can refuse them once that grant is revoked.
    public var sid: String?

    public init(iss: String, sub: String, aud: [String], azp: String? = nil,
                exp: Date, iat: Date, nonce: String? = nil, atHash: String? = nil,
                cHash: String? = nil, authTime: Date? = nil, email: String? = nil, emailVerified: Bool? = nil,
                name: String? = nil, preferredUsername: String? = nil, groups: [String]? = nil,
                federatedClaims: FederatedClaims? = nil, scope: String? = nil, sid: String? = nil) {
        self.iss = iss; self.sub = sub; self.aud = aud; self.azp = azp
        self.exp = Self.wholeSeconds(exp); self.iat = Self.wholeSeconds(iat)
        self.nonce = nonce; self.atHash = atHash; self.cHash = cHash
        self.authTime = authTime.map(Self.wholeSeconds); self.email = email; self.emailVerified = emailVerified
        self.name = name; self.preferredUsername = preferredUsername; self.groups = groups
        self.federatedClaims = federatedClaims; self.scope = scope; self.sid = sid
    }

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, azp, exp
        case iat, nonce, atHash = "at_hash", cHash = "c_hash", authTime = "auth_time"
        case email, emailVerified = "email_verified", name, preferredUsername = "preferred_username", groups
        case federatedClaims = "federated_claims", scope, sid
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        iss = try c.decode(String.self, forKey: .iss)
        sub = try c.decode(String.self, forKey: .sub)
        if let single = try? c.decode(String.self, forKey: .aud) {
            aud = [single]
        } else {
            aud = try c.decode([String].self, forKey: .aud)
        }
        azp = try c.decodeIfPresent(String.self, forKey: .azp)
        exp = try Self.decodeTime(c, .exp)
        iat = try Self.decodeTime(c, .iat)
        nonce = try c.decodeIfPresent(String.self, forKey: .nonce)
        atHash = try c.decodeIfPresent(String.self, forKey: .atHash)
        cHash = try c.decodeIfPresent(String.self, forKey: .cHash)
        authTime = try c.contains(.authTime) ? Self.decodeTime(c, .authTime) : nil
        email = try c.decodeIfPresent(String.self, forKey: .email)
        emailVerified = try c.decodeIfPresent(Bool.self, forKey: .emailVerified)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        preferredUsername = try c.decodeIfPresent(String.self, forKey: .preferredUsername)
        groups = try c.decodeIfPresent([String].self, forKey: .groups)
        federatedClaims = try c.decodeIfPresent(FederatedClaims.self, forKey: .federatedClaims)
        scope = try c.decodeIfPresent(String.self, forKey: .scope)
        sid = try c.decodeIfPresent(String.self, forKey: .sid)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(iss, forKey: .iss)
        try c.encode(sub, forKey: .sub)
        if aud.count == 1 {
            try c.encode(aud[0], forKey: .aud)
        } else {
            try c.encode(aud, forKey: .aud)
        }
        try c.encodeIfPresent(azp, forKey: .azp)
        try c.encode(try Self.seconds(exp), forKey: .exp)
        try c.encode(try Self.seconds(iat), forKey: .iat)
        try c.encodeIfPresent(nonce, forKey: .nonce)
        try c.encodeIfPresent(atHash, forKey: .atHash)
        try c.encodeIfPresent(cHash, forKey: .cHash)
        try c.encodeIfPresent(try authTime.map(Self.seconds), forKey: .authTime)
        try c.encodeIfPresent(email, forKey: .email)
        try c.encodeIfPresent(emailVerified, forKey: .emailVerified)
        try c.encodeIfPresent(name, forKey: .name)
        try c.encodeIfPresent(preferredUsername, forKey: .preferredUsername)
        try c.encodeIfPresent(groups, forKey: .groups)
        try c.encodeIfPresent(federatedClaims, forKey: .federatedClaims)
        try c.encodeIfPresent(scope, forKey: .scope)
        try c.encodeIfPresent(sid, forKey: .sid)
    }

    /// The JSON document `encode(to:)` produces (same members and omissions), written directly:
    /// this is the payload of every token signed, and `JSONEncoder` cost as much as an ES256
    /// signature. `TokenClaimsTests` checks the two agree.
    public func jsonBytes() throws -> [UInt8] {
        let exp = try Self.seconds(exp), iat = try Self.seconds(iat)
        let authTime = try authTime.map(Self.seconds)
        return JSONWriter.object { json in
            json.member("iss", iss)
            json.member("sub", sub)
            if aud.count == 1 { json.member("aud", aud[0]) } else { json.member("aud", aud) }
            json.member("azp", ifPresent: azp)
            json.member("exp", exp)
            json.member("iat", iat)
            json.member("nonce", ifPresent: nonce)
            json.member("at_hash", ifPresent: atHash)
            json.member("c_hash", ifPresent: cHash)
            json.member("auth_time", ifPresent: authTime)
            json.member("email", ifPresent: email)
            json.member("email_verified", ifPresent: emailVerified)
            json.member("name", ifPresent: name)
            json.member("preferred_username", ifPresent: preferredUsername)
            json.member("groups", ifPresent: groups)
            if let federatedClaims {
                json.member("federated_claims") { inner in
                    inner.member("connector_id", federatedClaims.connectorID)
                    inner.member("user_id", federatedClaims.userID)
                }
            }
            json.member("scope", ifPresent: scope)
            json.member("sid", ifPresent: sid)
        }
    }

    /// Checks `exp` only (RFC 7519 §4.1.4), against the wall clock. Issuer and aud depend on the
    /// caller's context, so callers check them; `KeySnapshot.verify` checks `exp` against its own clock.
    public func verify(using algorithm: some JWTAlgorithm) async throws {
        try verifyNotExpired(at: Date())
    }

    /// Throws `SigningError.expired` when `now` is at or past `exp`.
    public func verifyNotExpired(at now: Date) throws {
        if now >= exp { throw SigningError.expired }
    }

    /// `at_hash` / `c_hash` (OIDC Core §3.1.3.6, §3.3.2.11): base64url of the left half of the hash of
    /// the ASCII value, where the hash is the one the JWS `alg` uses (SHA-256 for RS256 and ES256,
    /// SHA-384 for *384, SHA-512 for *512 and EdDSA). Unknown names fall back to SHA-256, the hash of
    /// every algorithm Fedgate signs with.
    public static func halfHash(_ value: String, algorithm: String) -> String {
        var value = value
        return value.withUTF8 { utf8 in
            let input = UnsafeRawBufferPointer(utf8)
            switch algorithm {
            case "RS384", "ES384", "PS384": return leftHalf(SHA384.hash(data: input))
            case "RS512", "ES512", "PS512", "EdDSA": return leftHalf(SHA512.hash(data: input))
            default: return leftHalf(SHA256.hash(data: input))
            }
        }
    }

    private static func leftHalf(_ digest: some Digest) -> String {
        digest.withUnsafeBytes { bytes in
            Base64URL.encode(UnsafeBufferPointer(rebasing: bytes.bindMemory(to: UInt8.self).prefix(bytes.count / 2)))
        }
    }

    private static func wholeSeconds(_ date: Date) -> Date {
        Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
    }

    private static func seconds(_ date: Date) throws -> Int64 {
        guard let value = Int64(exactly: date.timeIntervalSince1970.rounded(.down)) else {
            throw EncodingError.invalidValue(date, .init(codingPath: [], debugDescription: "date out of NumericDate range"))
        }
        return value
    }

    private static func decodeTime(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> Date {
        wholeSeconds(Date(timeIntervalSince1970: try c.decode(Double.self, forKey: key)))
    }
}
