import FedgateCore
import Foundation

extension RefreshToken: EtcdValue {
    /// etcd `RefreshToken` (snake_case tags). `auth_code_id` and `auth_time` are Fedgate's.
    private struct Record: Codable {
        var id: String?
        var token: String?
        var obsolete_token: String?
        var created_at: Date?
        var last_used: Date?
        var client_id: String?
        var connector_id: String?
        var connector_data: Data?
        var claims: DexClaims?
        var scopes: [String]?
        var nonce: String?
        var auth_code_id: String?
        var auth_time: Date?
    }

    static func etcdDecode(_ data: Data) throws -> RefreshToken {
        let r = try EtcdJSON.decode(Record.self, data, as: "refresh token")
        let zero = Date(timeIntervalSince1970: 0)
        return RefreshToken(
            id: r.id ?? "", token: r.token ?? "", obsoleteToken: r.obsolete_token ?? "", createdAt: r.created_at ?? zero,
            lastUsed: r.last_used ?? zero, clientID: r.client_id ?? "", connectorID: r.connector_id ?? "",
            connectorData: r.connector_data, claims: r.claims?.model ?? Claims(userID: "", username: ""),
            scopes: r.scopes ?? [], nonce: r.nonce ?? "", authCodeID: r.auth_code_id ?? "", authTime: r.auth_time)
    }

    func etcdEncode() throws -> Data {
        try EtcdJSON.encode(Record(
            id: id, token: token, obsolete_token: obsoleteToken, created_at: createdAt, last_used: lastUsed,
            client_id: clientID, connector_id: connectorID, connector_data: connectorData, claims: DexClaims(claims),
            scopes: scopes, nonce: nonce, auth_code_id: authCodeID, auth_time: authTime))
    }
}

extension OfflineSession: EtcdValue {
    /// etcd `OfflineSessions`. Dex keys `refresh` by client ID; Fedgate keys it by refresh token
    /// ID (one user may hold several tokens per client), so on read the map is re-keyed by each
    /// reference's own `id`, which reads Dex's sessions and Fedgate's alike.
    private struct Record: Codable {
        var user_id: String?
        var conn_id: String?
        var refresh: [String: Ref]?
        var connectorData: Data?
    }

    /// `storage.RefreshTokenRef`, written with Fedgate's lowerCamel names; read as Go reads it.
    private struct Ref: Codable {
        var id: String?
        var clientID: String?
        var createdAt: Date?
        var lastUsed: Date?

        init(id: String?, clientID: String?, createdAt: Date?, lastUsed: Date?) {
            self.id = id; self.clientID = clientID; self.createdAt = createdAt; self.lastUsed = lastUsed
        }

        init(from decoder: any Decoder) throws {
            let ref = try DexRefreshTokenRef(from: decoder)
            self.init(id: ref.id, clientID: ref.clientID, createdAt: ref.createdAt, lastUsed: ref.lastUsed)
        }
    }

    static func etcdDecode(_ data: Data) throws -> OfflineSession {
        let r = try EtcdJSON.decode(Record.self, data, as: "offline session")
        let zero = Date(timeIntervalSince1970: 0)
        var refs: [String: RefreshTokenRef] = [:]
        for (mapKey, ref) in r.refresh ?? [:] {
            let id = ref.id ?? mapKey
            refs[id] = RefreshTokenRef(id: id, clientID: ref.clientID ?? "", createdAt: ref.createdAt ?? zero,
                                       lastUsed: ref.lastUsed ?? zero)
        }
        return OfflineSession(userID: r.user_id ?? "", connectorID: r.conn_id ?? "", refresh: refs,
                              connectorData: r.connectorData)
    }

    func etcdEncode() throws -> Data {
        let refs = refresh.mapValues { Ref(id: $0.id, clientID: $0.clientID, createdAt: $0.createdAt, lastUsed: $0.lastUsed) }
        return try EtcdJSON.encode(Record(user_id: userID, conn_id: connectorID, refresh: refs, connectorData: connectorData))
    }
}

extension DeviceRequest: EtcdValue {
    /// etcd `DeviceRequest`.
    private struct Record: Codable {
        var user_code: String?
        var device_code: String?
        var client_id: String?
        var client_secret: String?
        var scopes: [String]?
        var expiry: Date?
    }

    static func etcdDecode(_ data: Data) throws -> DeviceRequest {
        let r = try EtcdJSON.decode(Record.self, data, as: "device request")
        return DeviceRequest(userCode: r.user_code ?? "", deviceCode: r.device_code ?? "", clientID: r.client_id ?? "",
                             clientSecret: r.client_secret ?? "", scopes: r.scopes ?? [],
                             expiry: r.expiry ?? Date(timeIntervalSince1970: 0))
    }

    func etcdEncode() throws -> Data {
        try EtcdJSON.encode(Record(user_code: userCode, device_code: deviceCode, client_id: clientID,
                                   client_secret: clientSecret, scopes: scopes, expiry: expiry))
    }
}

extension DeviceToken: EtcdValue {
    /// etcd `DeviceToken`.
    private struct Record: Codable {
        var device_code: String?
        var status: String?
        var token: String?
        var expiry: Date?
        var last_request: Date?
        var poll_interval: Int?
        var code_challenge: String?
        var code_challenge_method: String?
    }

    static func etcdDecode(_ data: Data) throws -> DeviceToken {
        let r = try EtcdJSON.decode(Record.self, data, as: "device token")
        let zero = Date(timeIntervalSince1970: 0)
        return DeviceToken(deviceCode: r.device_code ?? "", status: r.status ?? "", token: r.token ?? "",
                           expiry: r.expiry ?? zero, lastRequestTime: r.last_request ?? zero,
                           pollIntervalSeconds: r.poll_interval ?? 5,
                           pkce: PKCE(codeChallenge: r.code_challenge ?? "", codeChallengeMethod: r.code_challenge_method ?? ""))
    }

    func etcdEncode() throws -> Data {
        try EtcdJSON.encode(Record(device_code: deviceCode, status: status, token: token, expiry: expiry,
                                   last_request: lastRequestTime, poll_interval: pollIntervalSeconds,
                                   code_challenge: pkce.codeChallenge, code_challenge_method: pkce.codeChallengeMethod))
    }
}

extension LoginThrottle: EtcdValue {
    /// Fedgate only (Dex has no stored throttles): same conventions, camelCase like the model.
    private struct Record: Codable {
        var key: String?
        var failures: Int?
        var windowStart: Date?
        var lockedUntil: Date?
        var expiry: Date?
    }

    static func etcdDecode(_ data: Data) throws -> LoginThrottle {
        let r = try EtcdJSON.decode(Record.self, data, as: "login throttle")
        let zero = Date(timeIntervalSince1970: 0)
        return LoginThrottle(key: r.key ?? "", failures: r.failures ?? 0, windowStart: r.windowStart ?? zero,
                             lockedUntil: r.lockedUntil, expiry: r.expiry ?? zero)
    }

    func etcdEncode() throws -> Data {
        try EtcdJSON.encode(Record(key: key, failures: failures, windowStart: windowStart, lockedUntil: lockedUntil,
                                   expiry: expiry))
    }
}

/// Dex's `storage.RefreshTokenRef` as JSON. The Go struct has no JSON tags, so Dex writes `ID`,
/// `ClientID`, `CreatedAt` and `LastUsed`; Go's decoder matches names without regard to case, and
/// so does this one, so references written by Dex (either backend) and by Fedgate both read.
struct DexRefreshTokenRef: Decodable {
    var id: String?
    var clientID: String?
    var createdAt: Date?
    var lastUsed: Date?

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        func key(_ name: String) -> AnyKey? {
            container.allKeys.first { $0.stringValue.lowercased() == name.lowercased() }
        }
        func value<T: Decodable>(_ name: String, _ type: T.Type) throws -> T? {
            guard let key = key(name) else { return nil }
            return try container.decodeIfPresent(type, forKey: key)
        }
        id = try value("id", String.self)
        clientID = try value("clientID", String.self)
        createdAt = try value("createdAt", Date.self)
        lastUsed = try value("lastUsed", Date.self)
    }
}
