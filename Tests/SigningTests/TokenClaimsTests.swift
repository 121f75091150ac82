import Foundation
import Signing
import Testing

@Suite("TokenClaims encoding")
struct TokenClaimsTests {
    func json(_ claims: TokenClaims) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(claims)) as? [String: Any])
    }

    @Test("One audience encodes as a string, several as an array")
    func audienceEncoding() throws {
        #expect(try json(sampleClaims(aud: ["app"]))["aud"] as? String == "app")
        #expect(try json(sampleClaims(aud: ["app", "peer"]))["aud"] as? [String] == ["app", "peer"])
    }

    @Test("Both audience forms decode")
    func audienceDecoding() throws {
        let single = #"{"iss":"i","sub":"s","aud":"app","exp":2000000000,"iat":1700000000}"#
        let many = #"{"iss":"i","sub":"s","aud":["app","peer"],"exp":2000000000,"iat":1700000000}"#
        #expect(try JSONDecoder().decode(TokenClaims.self, from: Data(single.utf8)).aud == ["app"])
        #expect(try JSONDecoder().decode(TokenClaims.self, from: Data(many.utf8)).aud == ["app", "peer"])
    }

    @Test("Nil members are omitted and times are integer seconds")
    func minimalShape() throws {
        let claims = TokenClaims(iss: "https://iss", sub: "sub", aud: ["app"],
                                 exp: Date(timeIntervalSince1970: 1_700_003_600.9),
                                 iat: Date(timeIntervalSince1970: 1_700_000_000.4))
        let object = try json(claims)
        #expect(Set(object.keys) == ["iss", "sub", "aud", "exp", "iat"])
        let text = String(decoding: try JSONEncoder().encode(claims), as: UTF8.self)
        #expect(text.contains(#""exp":1700003600"#) && text.contains(#""iat":1700000000"#))
    }

    @Test("Every member uses its OIDC / Dex name and survives a round trip")
    func fullRoundTrip() throws {
        let claims = TokenClaims(iss: "https://iss", sub: "sub", aud: ["app", "peer"], azp: "app",
                                 exp: Date(timeIntervalSince1970: 1_700_003_600), iat: Date(timeIntervalSince1970: 1_700_000_000),
                                 nonce: "n", atHash: "at", cHash: "c", authTime: Date(timeIntervalSince1970: 1_699_999_000),
                                 email: "e@x", emailVerified: false, name: "N", preferredUsername: "pn", groups: [],
                                 federatedClaims: .init(connectorID: "ldap", userID: "uid=1"), scope: "openid email", sid: "grant")
        let object = try json(claims)
        #expect(Set(object.keys) == ["iss", "sub", "aud", "azp", "exp", "iat", "nonce", "at_hash", "c_hash", "auth_time",
                                     "email", "email_verified", "name", "preferred_username", "groups", "federated_claims", "scope", "sid"])
        #expect(object["federated_claims"] as? [String: String] == ["connector_id": "ldap", "user_id": "uid=1"])
        #expect(object["email_verified"] as? Bool == false)
        #expect(try JSONDecoder().decode(TokenClaims.self, from: JSONEncoder().encode(claims)) == claims)
    }

    @Test("at_hash / c_hash match the OIDC Core examples (left half of SHA-256, base64url)")
    func halfHashVectors() {
        // OpenID Connect Core 1.0, Appendix A.3/A.4 example tokens.
        #expect(TokenClaims.halfHash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", algorithm: "RS256") == "77QmUPtjPfzWtF2AnpK9RQ")
        #expect(TokenClaims.halfHash("Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk", algorithm: "RS256") == "LDktKdoQak3Pk0cnXxCltA")
        #expect(TokenClaims.halfHash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", algorithm: "ES256") == "77QmUPtjPfzWtF2AnpK9RQ")
        #expect(TokenClaims.halfHash("x", algorithm: "RS512").count == 43)  // 32 bytes of SHA-512
    }

    @Test("verify(using:) checks exp against the wall clock")
    func payloadVerify() async throws {
        try await sampleClaims(now: Date(), lifetime: 60).verify(using: ES256Key.generate())
        await #expect(throws: SigningError.expired) {
            try await sampleClaims(now: Date() - 120, lifetime: 60).verify(using: ES256Key.generate())
        }
    }

    @Test("jsonBytes writes the document JSONEncoder writes")
    func directWriterMatchesEncoder() throws {
        let times = (exp: Date(timeIntervalSince1970: 1_700_003_600), iat: Date(timeIntervalSince1970: 1_700_000_000))
        let variants: [TokenClaims] = [
            TokenClaims(iss: "https://iss/dex", sub: "CgVhZG1pbhIFbG9jYWw", aud: ["app"], exp: times.exp, iat: times.iat),
            TokenClaims(iss: "https://iss", sub: "s", aud: ["app", "peer"], azp: "app", exp: times.exp, iat: times.iat,
                        nonce: "n\"o\\nce\u{1}", atHash: "at", cHash: "c", authTime: Date(timeIntervalSince1970: 1_699_999_000.7),
                        email: "jane@example.com", emailVerified: false, name: "Jane \"J\" Doe", preferredUsername: "jané",
                        groups: ["ops", "k8s:admins", "日本"], federatedClaims: FederatedClaims(connectorID: "ldap", userID: "u\n1"),
                        scope: "openid email groups", sid: "abc_-"),
            TokenClaims(iss: "i", sub: "s", aud: [], exp: times.exp, iat: times.iat, emailVerified: true, groups: []),
        ]
        let encoder = JSONEncoder()
        for claims in variants {
            let direct = try claims.jsonBytes()
            let encoded = try encoder.encode(claims)
            #expect(NSDictionary(dictionary: try #require(try JSONSerialization.jsonObject(with: Data(direct)) as? [String: Any]))
                == NSDictionary(dictionary: try #require(try JSONSerialization.jsonObject(with: encoded) as? [String: Any])))
            #expect(try JSONDecoder().decode(TokenClaims.self, from: Data(direct)) == claims)
        }
    }
}
