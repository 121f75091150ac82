import FedgateCore
import Foundation

/// An object stored as a JSON value under one etcd key, in Dex's format (`storage/etcd/types.go`
/// and the JSON tags of `storage/storage.go`), so Dex and Fedgate can read each other's data.
///
/// Go conventions are followed: times are RFC 3339 strings (`EtcdGoTime`), `[]byte` is standard
/// base64, and a nil slice is `null` (read as empty). Fields Fedgate has and Dex lacks are
/// written under extra keys, which Dex's decoder ignores. Each record type is a mirror struct
/// whose fields are all optional, so values written by any Dex version (missing keys, nulls) decode.
protocol EtcdValue: Sendable {
    static func etcdDecode(_ data: Data) throws -> Self
    func etcdEncode() throws -> Data
}

enum EtcdJSON {
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(EtcdGoTime.format(date))
        }
        encoder.dataEncodingStrategy = .base64
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = EtcdGoTime.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an RFC 3339 time")
            }
            return date
        }
        decoder.dataDecodingStrategy = .base64
        return decoder
    }

    static func encode<T: Encodable>(_ value: T) throws -> Data { try encoder().encode(value) }

    static func decode<T: Decodable>(_ type: T.Type, _ data: Data, as name: String) throws -> T {
        do {
            return try decoder().decode(type, from: data)
        } catch {
            throw StorageError.corrupt("cannot decode stored \(name): \(error)")
        }
    }
}

/// Dex `storage.Claims` as the etcd types write it.
struct DexClaims: Codable {
    var userID: String?
    var username: String?
    var preferredUsername: String?
    var email: String?
    var emailVerified: Bool?
    var groups: [String]?

    init(_ c: Claims) {
        userID = c.userID; username = c.username; preferredUsername = c.preferredUsername
        email = c.email; emailVerified = c.emailVerified; groups = c.groups
    }

    var model: Claims {
        Claims(userID: userID ?? "", username: username ?? "", preferredUsername: preferredUsername ?? "",
               email: email ?? "", emailVerified: emailVerified ?? false, groups: groups ?? [])
    }
}

extension Client: EtcdValue {
    /// `storage.Client`: `id`, `secret`, `redirectURIs`, `trustedPeers`, `public`, `name`, `logoURL`.
    private struct Record: Codable {
        var id: String?
        var secret: String?
        var redirectURIs: [String]?
        var trustedPeers: [String]?
        var `public`: Bool?
        var name: String?
        var logoURL: String?
    }

    static func etcdDecode(_ data: Data) throws -> Client {
        let r = try EtcdJSON.decode(Record.self, data, as: "client")
        return Client(id: r.id ?? "", secret: r.secret ?? "", redirectURIs: r.redirectURIs ?? [],
                      trustedPeers: r.trustedPeers ?? [], isPublic: r.public ?? false, name: r.name ?? "",
                      logoURL: r.logoURL ?? "")
    }

    func etcdEncode() throws -> Data {
        try EtcdJSON.encode(Record(id: id, secret: secret, redirectURIs: redirectURIs, trustedPeers: trustedPeers,
                                   public: isPublic, name: name, logoURL: logoURL))
    }
}

extension Password: EtcdValue {
    /// `storage.Password`: the bcrypt hash is `[]byte`, so base64 of the `$2a$…` text.
    private struct Record: Codable {
        var email: String?
        var hash: Data?
        var username: String?
        var userID: String?
        var name: String?
        var preferredUsername: String?
        var emailVerified: Bool?
        var groups: [String]?
    }

    static func etcdDecode(_ data: Data) throws -> Password {
        let r = try EtcdJSON.decode(Record.self, data, as: "password")
        return Password(email: r.email ?? "", hash: String(decoding: r.hash ?? Data(), as: UTF8.self),
                        username: r.username ?? "", name: r.name ?? "", preferredUsername: r.preferredUsername ?? "",
                        emailVerified: r.emailVerified ?? true, userID: r.userID ?? "", groups: r.groups ?? [])
    }

    func etcdEncode() throws -> Data {
        try EtcdJSON.encode(Record(email: email, hash: Data(hash.utf8), username: username, userID: userID, name: name,
                                   preferredUsername: preferredUsername, emailVerified: emailVerified, groups: groups))
    }
}

extension ConnectorRecord: EtcdValue {
    /// `storage.Connector`; its config bytes carry the JSON tag `email` (a quirk Dex keeps).
    private struct Record: Codable {
        var id: String?
        var type: String?
        var name: String?
        var resourceVersion: String?
        var email: Data?
        var grantTypes: [String]?
    }

    static func etcdDecode(_ data: Data) throws -> ConnectorRecord {
        let r = try EtcdJSON.decode(Record.self, data, as: "connector")
        return ConnectorRecord(id: r.id ?? "", type: r.type ?? "", name: r.name ?? "",
                               resourceVersion: r.resourceVersion ?? "", config: r.email ?? Data(),
                               grantTypes: r.grantTypes ?? [])
    }

    func etcdEncode() throws -> Data {
        try EtcdJSON.encode(Record(id: id, type: type, name: name, resourceVersion: resourceVersion, email: config,
                                   grantTypes: grantTypes))
    }
}

extension AuthRequest: EtcdValue {
    /// etcd `AuthRequest` (snake_case tags). `prompt`, `max_age` and `auth_time` are Fedgate's.
    private struct Record: Codable {
        var id: String?
        var client_id: String?
        var response_types: [String]?
        var scopes: [String]?
        var redirect_uri: String?
        var nonce: String?
        var state: String?
        var force_approval_prompt: Bool?
        var expiry: Date?
        var logged_in: Bool?
        var claims: DexClaims?
        var connector_id: String?
        var connector_data: Data?
        var code_challenge: String?
        var code_challenge_method: String?
        var hmac_key: Data?
        var prompt: String?
        var max_age: Int?
        var auth_time: Date?
    }

    static func etcdDecode(_ data: Data) throws -> AuthRequest {
        let r = try EtcdJSON.decode(Record.self, data, as: "auth request")
        return AuthRequest(
            id: r.id ?? "", clientID: r.client_id ?? "", responseTypes: r.response_types ?? [], scopes: r.scopes ?? [],
            redirectURI: r.redirect_uri ?? "", nonce: r.nonce ?? "", state: r.state ?? "",
            forceApprovalPrompt: r.force_approval_prompt ?? false, expiry: r.expiry ?? Date(timeIntervalSince1970: 0),
            loggedIn: r.logged_in ?? false, claims: r.claims?.model, connectorID: r.connector_id ?? "",
            connectorData: r.connector_data,
            pkce: PKCE(codeChallenge: r.code_challenge ?? "", codeChallengeMethod: r.code_challenge_method ?? ""),
            hmacKey: r.hmac_key ?? Data(), prompt: r.prompt ?? "", maxAge: r.max_age, authTime: r.auth_time)
    }

    func etcdEncode() throws -> Data {
        try EtcdJSON.encode(Record(
            id: id, client_id: clientID, response_types: responseTypes, scopes: scopes, redirect_uri: redirectURI,
            nonce: nonce, state: state, force_approval_prompt: forceApprovalPrompt, expiry: expiry, logged_in: loggedIn,
            claims: claims.map(DexClaims.init), connector_id: connectorID, connector_data: connectorData,
            code_challenge: pkce.codeChallenge, code_challenge_method: pkce.codeChallengeMethod, hmac_key: hmacKey,
            prompt: prompt, max_age: maxAge, auth_time: authTime))
    }
}

extension AuthCode: EtcdValue {
    /// etcd `AuthCode` (camelCase tags, `ID` in capitals). `authTime` is Fedgate's.
    private struct Record: Codable {
        var ID: String?
        var clientID: String?
        var redirectURI: String?
        var nonce: String?
        var scopes: [String]?
        var connectorID: String?
        var connectorData: Data?
        var claims: DexClaims?
        var expiry: Date?
        var code_challenge: String?
        var code_challenge_method: String?
        var authTime: Date?
    }

    static func etcdDecode(_ data: Data) throws -> AuthCode {
        let r = try EtcdJSON.decode(Record.self, data, as: "auth code")
        return AuthCode(
            id: r.ID ?? "", clientID: r.clientID ?? "", redirectURI: r.redirectURI ?? "", nonce: r.nonce ?? "",
            scopes: r.scopes ?? [], connectorID: r.connectorID ?? "", connectorData: r.connectorData,
            claims: r.claims?.model ?? Claims(userID: "", username: ""), expiry: r.expiry ?? Date(timeIntervalSince1970: 0),
            pkce: PKCE(codeChallenge: r.code_challenge ?? "", codeChallengeMethod: r.code_challenge_method ?? ""),
            authTime: r.authTime)
    }

    func etcdEncode() throws -> Data {
        try EtcdJSON.encode(Record(
            ID: id, clientID: clientID, redirectURI: redirectURI, nonce: nonce, scopes: scopes, connectorID: connectorID,
            connectorData: connectorData, claims: DexClaims(claims), expiry: expiry,
            code_challenge: pkce.codeChallenge, code_challenge_method: pkce.codeChallengeMethod, authTime: authTime))
    }
}
