import FedgateCore
import Foundation

/// Dex's SQL tables (`storage/sql/migrate.go`) and how each row becomes a Fedgate model, after
/// the column lists of `storage/sql/crud.go`. Columns later migrations added (PKCE, HMAC key,
/// `obsolete_token`, `claims_preferred_username`, the password's profile fields) are optional.
struct DexSQLTable: Sendable {
    let name: String
    let keyColumns: [String]

    static let client = DexSQLTable(name: "client", keyColumns: ["id"])
    static let authRequest = DexSQLTable(name: "auth_request", keyColumns: ["id"])
    static let authCode = DexSQLTable(name: "auth_code", keyColumns: ["id"])
    static let refreshToken = DexSQLTable(name: "refresh_token", keyColumns: ["id"])
    static let password = DexSQLTable(name: "password", keyColumns: ["email"])
    static let keys = DexSQLTable(name: "keys", keyColumns: ["id"])
    static let offlineSession = DexSQLTable(name: "offline_session", keyColumns: ["user_id", "conn_id"])
    static let connector = DexSQLTable(name: "connector", keyColumns: ["id"])
    static let deviceRequest = DexSQLTable(name: "device_request", keyColumns: ["user_code"])
    static let deviceToken = DexSQLTable(name: "device_token", keyColumns: ["device_code"])
}

enum DexSQLRecords {
    private static let epoch = Date(timeIntervalSince1970: 0)

    static func claims(_ row: DexSQLRow) throws -> Claims {
        Claims(userID: row.text("claims_user_id"), username: row.text("claims_username"),
               preferredUsername: row.text("claims_preferred_username"), email: row.text("claims_email"),
               emailVerified: try row.bool("claims_email_verified") ?? false,
               groups: try row.json("claims_groups", as: [String].self) ?? [])
    }

    static func pkce(_ row: DexSQLRow) -> PKCE {
        PKCE(codeChallenge: row.text("code_challenge"), codeChallengeMethod: row.text("code_challenge_method"))
    }

    static func client(_ row: DexSQLRow) throws -> Client {
        Client(id: row.text("id"), secret: row.text("secret"),
               redirectURIs: try row.json("redirect_uris", as: [String].self) ?? [],
               trustedPeers: try row.json("trusted_peers", as: [String].self) ?? [],
               isPublic: try row.bool("public") ?? false, name: row.text("name"), logoURL: row.text("logo_url"))
    }

    /// Dex stores empty claims for a request nobody has logged in to yet; Fedgate has none then.
    static func authRequest(_ row: DexSQLRow) throws -> AuthRequest {
        let loggedIn = try row.bool("logged_in") ?? false
        return AuthRequest(
            id: row.text("id"), clientID: row.text("client_id"),
            responseTypes: try row.json("response_types", as: [String].self) ?? [],
            scopes: try row.json("scopes", as: [String].self) ?? [], redirectURI: row.text("redirect_uri"),
            nonce: row.text("nonce"), state: row.text("state"),
            forceApprovalPrompt: try row.bool("force_approval_prompt") ?? false,
            expiry: try row.time("expiry") ?? epoch, loggedIn: loggedIn,
            claims: loggedIn || !row.text("claims_user_id").isEmpty ? try claims(row) : nil,
            connectorID: row.text("connector_id"), connectorData: row.bytes("connector_data"), pkce: pkce(row),
            hmacKey: row.bytes("hmac_key") ?? Data())
    }

    static func authCode(_ row: DexSQLRow) throws -> AuthCode {
        AuthCode(id: row.text("id"), clientID: row.text("client_id"), redirectURI: row.text("redirect_uri"),
                 nonce: row.text("nonce"), scopes: try row.json("scopes", as: [String].self) ?? [],
                 connectorID: row.text("connector_id"), connectorData: row.bytes("connector_data"),
                 claims: try claims(row), expiry: try row.time("expiry") ?? epoch, pkce: pkce(row))
    }

    /// The record keeps Dex's `id` and `token`, so the refresh token a client holds
    /// (`DexEncoding.refreshToken(id:token:)`) names a record that exists and matches.
    static func refreshToken(_ row: DexSQLRow) throws -> RefreshToken {
        RefreshToken(id: row.text("id"), token: row.text("token"), obsoleteToken: row.text("obsolete_token"),
                     createdAt: try row.time("created_at") ?? epoch, lastUsed: try row.time("last_used") ?? epoch,
                     clientID: row.text("client_id"), connectorID: row.text("connector_id"),
                     connectorData: row.bytes("connector_data"), claims: try claims(row),
                     scopes: try row.json("scopes", as: [String].self) ?? [], nonce: row.text("nonce"))
    }

    /// `hash` is the bcrypt text as bytes. A NULL `email_verified` (rows from before the column)
    /// reads as verified, as Dex treats it.
    static func password(_ row: DexSQLRow) throws -> Password {
        Password(email: row.text("email").lowercased(), hash: row.text("hash"), username: row.text("username"),
                 name: row.text("name"), preferredUsername: row.text("preferred_username"),
                 emailVerified: try row.bool("email_verified") ?? true, userID: row.text("user_id"),
                 groups: try row.json("groups", as: [String].self) ?? [])
    }

    /// Dex keys `refresh` by client ID; Fedgate by refresh token ID (see `OfflineSession`).
    static func offlineSession(_ row: DexSQLRow) throws -> OfflineSession {
        var refs: [String: RefreshTokenRef] = [:]
        for (mapKey, ref) in try row.json("refresh", as: [String: DexRefreshTokenRef?].self) ?? [:] {
            guard let ref else { continue }
            let id = ref.id ?? mapKey
            refs[id] = RefreshTokenRef(id: id, clientID: ref.clientID ?? mapKey, createdAt: ref.createdAt ?? epoch,
                                       lastUsed: ref.lastUsed ?? epoch)
        }
        return OfflineSession(userID: row.text("user_id"), connectorID: row.text("conn_id"), refresh: refs,
                              connectorData: row.bytes("connector_data"))
    }

    static func connector(_ row: DexSQLRow) throws -> ConnectorRecord {
        ConnectorRecord(id: row.text("id"), type: row.text("type"), name: row.text("name"),
                        resourceVersion: row.text("resource_version"), config: row.bytes("config") ?? Data(),
                        grantTypes: try row.json("grant_types", as: [String].self) ?? [])
    }

    static func deviceRequest(_ row: DexSQLRow) throws -> DeviceRequest {
        DeviceRequest(userCode: row.text("user_code"), deviceCode: row.text("device_code"), clientID: row.text("client_id"),
                      clientSecret: row.text("client_secret"), scopes: try row.json("scopes", as: [String].self) ?? [],
                      expiry: try row.time("expiry") ?? epoch)
    }

    /// `token` is the JSON token response as bytes.
    static func deviceToken(_ row: DexSQLRow) throws -> DeviceToken {
        DeviceToken(deviceCode: row.text("device_code"), status: row.text("status"), token: row.text("token"),
                    expiry: try row.time("expiry") ?? epoch, lastRequestTime: try row.time("last_request") ?? epoch,
                    pollIntervalSeconds: try row.integer("poll_interval") ?? 5, pkce: pkce(row))
    }

    /// `verification_keys` is a JSON array of `{publicKey, expiry}`, `signing_key_pub` a JWK.
    /// The private `signing_key` is a JWK Fedgate cannot use without a crypto library here, so
    /// the set becomes Dex's public keys to verify with and an immediate rotation (`Keys.fromDex`).
    static func keys(_ row: DexSQLRow) throws -> Keys {
        struct VerificationKey: Decodable {
            var publicKey: JSONValue?
            var expiry: Date?
        }
        let verification = try row.json("verification_keys", as: [VerificationKey].self) ?? []
        let current = try row.json("signing_key_pub", as: JSONValue.self)
        return try Keys.fromDex(signingKeyPub: current == .null ? nil : current,
                                verificationKeys: verification.map { ($0.publicKey, $0.expiry) },
                                nextRotation: try row.time("next_rotation"))
    }
}
