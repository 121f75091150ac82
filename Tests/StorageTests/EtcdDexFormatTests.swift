import FedgateCore
import Foundation
import Testing
@testable import Storage

/// Dex's etcd layout and JSON both ways: a Dex deployment's data is readable, and what Fedgate
/// writes is where and how Dex writes it (`storage/etcd/etcd.go`, `types.go`).
@Suite("EtcdStorage Dex format")
struct EtcdDexFormatTests {
    @Test("values Dex wrote are read: clients, passwords, connectors, refresh tokens, offline sessions, keys")
    func readsDexData() async throws {
        let store = try await EtcdTestServer.shared.freshStore()
        let hash = "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"
        let dex: [String: String] = [
            "client/example-app": """
                {"id":"example-app","secret":"c2VjcmV0","redirectURIs":["http://127.0.0.1:5555/callback"],\
                "trustedPeers":null,"public":false,"name":"Example App","logoURL":""}
                """,
            "password/admin@example.com": """
                {"email":"admin@example.com","hash":"\(Data(hash.utf8).base64EncodedString())","username":"admin",\
                "userID":"08a8684b-db88-4b73-90a9-3cd1661f5466"}
                """,
            "connector/ldap": """
                {"id":"ldap","type":"ldap","name":"LDAP","resourceVersion":"7","email":"\(Data(#"{"host":"ldap:389"}"#.utf8).base64EncodedString())"}
                """,
            "refresh_token/rt1": """
                {"id":"rt1","token":"secret-token","obsolete_token":"","created_at":"2024-01-02T03:04:05.123456789Z",\
                "last_used":"2024-01-02T04:04:05+05:30","client_id":"example-app","connector_id":"local",\
                "connector_data":null,"claims":{"userID":"u1","username":"admin","preferredUsername":"",\
                "email":"admin@example.com","emailVerified":true,"groups":["admins"]},"scopes":["openid","offline_access"],\
                "nonce":"n-1"}
                """,
            "offline_session/u1|local": """
                {"user_id":"U1","conn_id":"local","refresh":{"example-app":{"id":"rt1","clientID":"example-app",\
                "createdAt":"2024-01-02T03:04:05Z","lastUsed":"2024-01-02T03:05:05Z"}},"connectorData":"e30="}
                """,
            "openid-connect-keys": """
                {"signing_key":{"kty":"RSA","kid":"current","d":"private"},\
                "signing_key_pub":{"use":"sig","kty":"RSA","kid":"current","alg":"RS256","n":"AQAB","e":"AQAB"},\
                "verification_keys":[{"publicKey":{"use":"sig","kty":"RSA","kid":"old","alg":"RS256","n":"AQAB","e":"AQAB"},\
                "expiry":"2030-01-01T00:00:00Z"}],"next_rotation":"2030-06-01T00:00:00Z"}
                """,
        ]
        for (path, json) in dex { try await put(store, path, json) }

        let client = try await store.getClient(id: "example-app")
        #expect(client == Client(id: "example-app", secret: "c2VjcmV0", redirectURIs: ["http://127.0.0.1:5555/callback"],
                                 name: "Example App"))
        let password = try await store.getPassword(email: "Admin@Example.com")
        #expect(password.hash == hash && password.userID == "08a8684b-db88-4b73-90a9-3cd1661f5466")
        #expect(try await store.getConnector(id: "ldap").config == Data(#"{"host":"ldap:389"}"#.utf8))

        let token = try await store.getRefreshToken(id: "rt1")
        #expect(token.createdAt == Date(timeIntervalSince1970: 1_704_164_645.123457))
        #expect(token.lastUsed == Date(timeIntervalSince1970: 1_704_148_445)) // 04:04:05+05:30 is 22:34:05Z the day before
        #expect(token.claims == Claims(userID: "u1", username: "admin", email: "admin@example.com", emailVerified: true,
                                       groups: ["admins"]))
        #expect(token.scopes == ["openid", "offline_access"] && token.nonce == "n-1" && token.connectorData == nil)

        let session = try await store.getOfflineSession(userID: "U1", connectorID: "local")
        #expect(session.refresh.keys.sorted() == ["rt1"])
        #expect(session.refresh["rt1"]?.clientID == "example-app")
        #expect(session.connectorData == Data("{}".utf8))
        #expect(try await store.listOfflineSessions(userID: "U1").count == 1)

        let keys = try await store.getKeys()
        #expect(keys.signingKey == nil, "Dex's private JWK is not usable here: rotate at once")
        #expect(keys.nextRotation == Date(timeIntervalSince1970: 0))
        #expect(keys.verificationKeys.map(\.kid).sorted() == ["current", "old"])
        #expect(keys.verificationKeys.first { $0.kid == "current" }?.expiry
                == EtcdGoTime.parse("2030-06-02T00:00:00Z"), "Dex's current key verifies until next rotation + 24 h")
        try await store.close()
    }

    /// `storage.RefreshTokenRef` has no JSON tags, so Dex writes `ID`, `ClientID`, `CreatedAt`,
    /// `LastUsed`; Go reads names without regard to case, and so must Fedgate.
    @Test("offline session references with Go's untagged field names are read")
    func readsUntaggedRefreshTokenRefs() throws {
        let json = """
            {"user_id":"u1","conn_id":"local","refresh":{"example-app":{"ID":"rt1","ClientID":"example-app",\
            "CreatedAt":"2024-01-02T03:04:05Z","LastUsed":"2024-01-02T03:05:05Z"}},"connectorData":null}
            """
        let session = try OfflineSession.etcdDecode(Data(json.utf8))
        #expect(session.refresh == ["rt1": RefreshTokenRef(id: "rt1", clientID: "example-app",
                                                          createdAt: EtcdGoTime.parse("2024-01-02T03:04:05Z")!,
                                                          lastUsed: EtcdGoTime.parse("2024-01-02T03:05:05Z")!)])
    }

    @Test("what Fedgate writes is in Dex's layout and format")
    func writesDexData() async throws {
        let store = try await EtcdTestServer.shared.freshStore()
        let created = Date(timeIntervalSince1970: 1_700_000_000.25)
        try await store.createRefreshToken(RefreshToken(id: "rt9", token: "t", createdAt: created, lastUsed: created,
                                                        clientID: "app", connectorID: "ldap",
                                                        claims: Claims(userID: "u9", username: "nine")))
        try await store.createPassword(Password(email: "Mixed@Example.com", hash: "$2a$10$abc", username: "m", userID: "m1"))
        try await store.createOfflineSession(OfflineSession(userID: "User9", connectorID: "LDAP"))

        let token = try await rawJSON(store, "refresh_token/rt9")
        #expect(token["created_at"] as? String == "2023-11-14T22:13:20.25Z")
        #expect(token["client_id"] as? String == "app")
        #expect((token["claims"] as? [String: Any])?["userID"] as? String == "u9")
        let password = try await rawJSON(store, "password/mixed@example.com")
        #expect(password["email"] as? String == "mixed@example.com")
        #expect(password["hash"] as? String == Data("$2a$10$abc".utf8).base64EncodedString())
        let session = try await rawJSON(store, "offline_session/user9|ldap")
        #expect(session["user_id"] as? String == "User9" && session["conn_id"] as? String == "LDAP")
        try await store.close()
    }

    @Test("keys in error messages and logs name their kind, never the id (an auth code's id is the code)")
    func redactedKeys() {
        #expect(EtcdStorage.redacted("auth_code/Sp1XgXjzYwQ7") == "auth_code/…")
        #expect(EtcdStorage.redacted("/dex/device_token/dev-code-secret") == "/dex/device_token/…")
        #expect(!EtcdStorage.redacted("refresh_token/abc123").contains("abc123"))
        #expect(EtcdStorage.redacted("keys") == "keys")
    }

    @Test("a write is resent to another endpoint only after an error that proves it was not applied")
    func writeRetryClassification() {
        #expect(EtcdClient.refusedBeforeProposal(code: 14, message: "etcdserver: no leader"))
        #expect(EtcdClient.refusedBeforeProposal(code: 8, message: "etcdserver: too many requests"))
        for message in ["etcdserver: server stopped", "etcdserver: leader changed", "etcdserver: request timed out"] {
            #expect(!EtcdClient.refusedBeforeProposal(code: 14, message: message), "\(message)")
        }
        #expect(!EtcdClient.refusedBeforeProposal(code: 4, message: "context deadline exceeded"))
    }

    @Test("Go's RFC 3339 times: formatting trims zeros, parsing takes offsets and nanoseconds")
    func goTime() {
        #expect(EtcdGoTime.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
        #expect(EtcdGoTime.format(Date(timeIntervalSince1970: 1_700_000_000.5)) == "2023-11-14T22:13:20.5Z")
        #expect(EtcdGoTime.format(Date(timeIntervalSince1970: -62_135_596_800)) == "0001-01-01T00:00:00Z")
        #expect(EtcdGoTime.parse("0001-01-01T00:00:00Z") == Date(timeIntervalSince1970: -62_135_596_800))
        #expect(EtcdGoTime.parse("2023-11-15T03:43:20.000001+05:30") == Date(timeIntervalSince1970: 1_700_000_000.000001))
        #expect(EtcdGoTime.parse("2023-11-14T11:13:20-11:00") == Date(timeIntervalSince1970: 1_700_000_000))
        #expect(EtcdGoTime.parse("2024-02-29T23:59:59.9999999Z") == Date(timeIntervalSince1970: 1_709_251_200))
        for bad in ["", "2023-11-14", "2023-11-14T22:13:20", "2023-13-01T00:00:00Z", "2023-11-14T22:13:20.Z", "2023-11-14T22:13:20+0530"] {
            #expect(EtcdGoTime.parse(bad) == nil, "\(bad)")
        }
        let odd = Date(timeIntervalSince1970: 1_234_567_890.123456)
        #expect(EtcdGoTime.parse(EtcdGoTime.format(odd)) == odd)
    }

    // MARK: Raw access

    private func put(_ store: EtcdStorage, _ path: String, _ json: String) async throws {
        let key = store.key(path)
        _ = try await store.client.txn(.init(compare: [], success: [.init(request_put: .init(key: key, value: Data(json.utf8)))],
                                             failure: []))
    }

    private func rawJSON(_ store: EtcdStorage, _ path: String) async throws -> [String: Any] {
        let value = try await store.client.range(.init(key: store.key(path))).kvs?.first?.value
        guard let value, let object = try JSONSerialization.jsonObject(with: value) as? [String: Any] else {
            throw ScriptFailure(message: "no JSON object at \(path)")
        }
        return object
    }
}
