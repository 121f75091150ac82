import Crypto
import FedgateCore
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Signing
import Storage
import Testing
@testable import Gateway

/// In-process flows through the real router on a live loopback listener.
@Suite("Gateway flows")
struct FlowTests {
    static let yaml = """
    issuer: http://127.0.0.1:5556/dex
    storage:
      type: memory
    web:
      http: 127.0.0.1:0
    oauth2:
      skipApprovalScreen: true
      passwordConnector: local
    expiry:
      refreshTokens:
        reuseInterval: 2s
    staticClients:
    - id: example-app
      secret: app-secret
      name: Example App
      redirectURIs: [http://127.0.0.1:5555/callback]
    - id: cli
      public: true
      name: CLI
    - id: kube
      secret: kube-secret
      name: Kubernetes
      redirectURIs: [http://127.0.0.1:5555/kube]
      trustedPeers: [example-app]
    connectors:
    - type: mockCallback
      id: mock
      name: Example
    enablePasswordDB: true
    staticPasswords:
    - email: admin@example.com
      hash: "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"
      username: admin
      userID: 08a8684b-db88-4b73-90a9-3cd1661f5466
      groups: [admins]
    """

    static func makeGateway(yaml: String = yaml) async throws -> Gateway {
        let config = try FedgateConfig.parse(yaml: yaml, file: "flow-test.yaml", environment: [:])
        return try await Gateway.make(config: config, logger: Logger(label: "test"))
    }

    static func form(_ pairs: [(String, String)]) -> ByteBuffer {
        ByteBuffer(string: pairs.map { "\($0.0)=\(FormParameters.encode($0.1))" }.joined(separator: "&"))
    }

    static let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    static func basic(_ id: String, _ secret: String) -> HTTPFields {
        var h = formHeaders
        h[.authorization] = "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString()
        return h
    }

    static func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any] ?? [:]
    }

    @Test("discovery lists every endpoint under the issuer path; the issuer is kept as written, a trailing slash included",
          arguments: ["http://127.0.0.1:5556/dex", "http://127.0.0.1:5556/dex/"])
    func discovery(_ issuer: String) async throws {
        let gateway = try await Self.makeGateway(yaml: Self.yaml.replacingOccurrences(of: "issuer: http://127.0.0.1:5556/dex\n",
                                                                                   with: "issuer: \(issuer)\n"))
        let app = Application(router: gateway.router())
        try await app.test(.live) { client in
            try await client.execute(uri: "/dex/.well-known/openid-configuration", method: .get) { response in
                #expect(response.status == .ok)
                let doc = try Self.json(response.body)
                #expect(doc["issuer"] as? String == issuer)
                #expect(doc["token_endpoint"] as? String == "http://127.0.0.1:5556/dex/token")
                #expect(doc["jwks_uri"] as? String == "http://127.0.0.1:5556/dex/keys")
                #expect((doc["grant_types_supported"] as? [String])?.contains("password") == true)
            }
            try await client.execute(uri: "/.well-known/openid-configuration", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    @Test("an issuer with a trailing slash is the tokens' iss as written, and userinfo accepts them")
    func issuerWithTrailingSlash() async throws {
        let gateway = try await Self.makeGateway(yaml: Self.yaml.replacingOccurrences(of: "issuer: http://127.0.0.1:5556/dex\n",
                                                                                   with: "issuer: http://127.0.0.1:5556/dex/\n"))
        try await Application(router: gateway.router()).test(.live) { client in
            let body = Self.form([("grant_type", "password"), ("username", "admin@example.com"), ("password", "password"), ("scope", "openid")])
            let tokens = try await client.execute(uri: "/dex/token", method: .post, headers: Self.basic("example-app", "app-secret"), body: body) { r in
                #expect(r.status == .ok)
                return try Self.json(r.body)
            }
            let claims = try gateway.keys.snapshot.verify(try #require(tokens["id_token"] as? String))
            #expect(claims.iss == "http://127.0.0.1:5556/dex/")
            // The access token is accepted where the issuer is checked (userinfo).
            let access = try #require(tokens["access_token"] as? String)
            try await client.execute(uri: "/dex/userinfo", method: .get, headers: [.authorization: "Bearer \(access)"]) { r in
                #expect(r.status == .ok)
            }
        }
    }

    @Test("code flow with PKCE S256 through the mock connector, then refresh, replay and userinfo")
    func codeFlow() async throws {
        let gateway = try await Self.makeGateway()
        let app = Application(router: gateway.router())
        let verifier = String(repeating: "v", count: 50)
        let challenge = Base64URL.encode(SHA256.hash(data: Data(verifier.utf8)))
        try await app.test(.live) { client in
            let auth = "/dex/auth?client_id=example-app&redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcallback&response_type=code"
                + "&scope=openid+email+groups+offline_access+audience:server:client_id:kube&state=st&nonce=nn&connector_id=mock"
                + "&code_challenge=\(challenge)&code_challenge_method=S256"
            var location = try await client.execute(uri: auth, method: .get) { $0.headers[.location] }
            // /auth/mock -> upstream (mock: straight to /callback) -> client redirect
            for _ in 0..<3 {
                guard let current = location, current.hasPrefix("/dex") || current.hasPrefix("http://127.0.0.1:5556") else { break }
                let path = current.replacingOccurrences(of: "http://127.0.0.1:5556", with: "")
                location = try await client.execute(uri: path, method: .get) { $0.headers[.location] }
            }
            let redirect = try #require(location)
            #expect(redirect.hasPrefix("http://127.0.0.1:5555/callback?code="))
            #expect(redirect.contains("state=st"))
            let code = try #require(URLComponents(string: redirect)?.queryItems?.first { $0.name == "code" }?.value)

            let body = Self.form([("grant_type", "authorization_code"), ("code", code),
                                  ("redirect_uri", "http://127.0.0.1:5555/callback"), ("code_verifier", verifier)])
            let tokens = try await client.execute(uri: "/dex/token", method: .post, headers: Self.basic("example-app", "app-secret"), body: body) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.cacheControl] == "no-store")
                return try Self.json(r.body)
            }
            let idToken = try #require(tokens["id_token"] as? String)
            let claims = try gateway.keys.snapshot.verify(idToken)
            #expect(claims.aud.sorted() == ["example-app", "kube"])
            #expect(claims.azp == "example-app")
            #expect(claims.nonce == "nn")
            #expect(claims.groups == ["authors"])
            #expect(claims.sub == DexEncoding.subject(userID: "0-385-28089-0", connectorID: "mock"))

            let refresh = try #require(tokens["refresh_token"] as? String)
            let refreshBody = Self.form([("grant_type", "refresh_token"), ("refresh_token", refresh)])
            let rotated = try await client.execute(uri: "/dex/token", method: .post, headers: Self.basic("example-app", "app-secret"), body: refreshBody) { r in
                #expect(r.status == .ok)
                return try Self.json(r.body)["refresh_token"] as? String
            }
            #expect(rotated != nil && rotated != refresh)
            // Within reuseInterval the old token yields the current one.
            try await client.execute(uri: "/dex/token", method: .post, headers: Self.basic("example-app", "app-secret"), body: refreshBody) { r in
                #expect(r.status == .ok)
                let body = try Self.json(r.body)
                #expect(body["refresh_token"] as? String == rotated)
            }
            // Another client cannot use it.
            try await client.execute(uri: "/dex/token", method: .post, headers: Self.basic("kube", "kube-secret"), body: refreshBody) { r in
                #expect(r.status == .badRequest)
            }

            let access = try #require(tokens["access_token"] as? String)
            try await client.execute(uri: "/dex/userinfo", method: .get, headers: [.authorization: "Bearer \(access)"]) { r in
                #expect(r.status == .ok)
                let body = try Self.json(r.body)
                #expect(body["email"] as? String == "kilgore@kilgore.trout")
            }
            try await client.execute(uri: "/dex/userinfo", method: .get, headers: [.authorization: "Bearer \(access)x"]) { r in
                #expect(r.status == .unauthorized)
            }
            // The same code again: invalid_grant (and its refresh family is revoked).
            try await client.execute(uri: "/dex/token", method: .post, headers: Self.basic("example-app", "app-secret"), body: body) { r in
                #expect(r.status == .badRequest)
                let body = try Self.json(r.body)
                #expect(body["error"] as? String == "invalid_grant")
            }

        }
    }

    @Test("password grant through the local connector")
    func passwordGrant() async throws {
        let gateway = try await Self.makeGateway()
        let app = Application(router: gateway.router())
        try await app.test(.live) { client in
            let good = Self.form([("grant_type", "password"), ("username", "admin@example.com"), ("password", "password"), ("scope", "openid email")])
            try await client.execute(uri: "/dex/token", method: .post, headers: Self.basic("example-app", "app-secret"), body: good) { r in
                #expect(r.status == .ok)
                let claims = try gateway.keys.snapshot.verify(try #require(try Self.json(r.body)["id_token"] as? String))
                #expect(claims.email == "admin@example.com")
                #expect(claims.sub == "CiQwOGE4Njg0Yi1kYjg4LTRiNzMtOTBhOS0zY2QxNjYxZjU0NjYSBWxvY2Fs")
            }
            let bad = Self.form([("grant_type", "password"), ("username", "admin@example.com"), ("password", "nope"), ("scope", "openid")])
            try await client.execute(uri: "/dex/token", method: .post, headers: Self.basic("example-app", "app-secret"), body: bad) { r in
                #expect(r.status == .badRequest)
                let body = try Self.json(r.body)
                #expect(body["error"] as? String == "invalid_grant")
            }
        }
    }

    @Test("bad /auth requests never redirect to an unverified URI", arguments: [
        "/dex/auth?client_id=nobody&redirect_uri=http%3A%2F%2Fevil.example%2F&response_type=code&scope=openid",
        "/dex/auth?client_id=example-app&redirect_uri=http%3A%2F%2Fevil.example%2F&response_type=code&scope=openid",
        "/dex/auth?redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcallback&response_type=code&scope=openid",
        "/dex/auth?client_id=cli&redirect_uri=http%3A%2F%2Fevil.example%2Fcb&response_type=code&scope=openid",
    ])
    func badAuthorize(_ uri: String) async throws {
        let gateway = try await Self.makeGateway()
        let app = Application(router: gateway.router())
        try await app.test(.live) { client in
            try await client.execute(uri: uri, method: .get) { r in
                #expect(r.status == .badRequest)
                #expect(r.headers[.location] == nil)
                #expect(String(buffer: r.body).contains("error-title"))
            }
        }
    }

    @Test("redirect URI rules: exact match, and loopback on any port only for public clients without registered URIs")
    func redirectURIs() {
        let confidential = Client(id: "a", secret: "s", redirectURIs: ["http://127.0.0.1:5555/callback"])
        #expect(Gateway.validRedirectURI("http://127.0.0.1:5555/callback", client: confidential))
        #expect(!Gateway.validRedirectURI("http://127.0.0.1:5555/callback/", client: confidential))
        #expect(!Gateway.validRedirectURI("http://127.0.0.1:9999/callback", client: confidential))
        let cli = Client(id: "cli", isPublic: true)
        #expect(Gateway.validRedirectURI("http://127.0.0.1:49152/anything", client: cli))
        #expect(Gateway.validRedirectURI("http://localhost:8000", client: cli))
        #expect(Gateway.validRedirectURI("http://[::1]:8000/cb", client: cli))
        #expect(Gateway.validRedirectURI("urn:ietf:wg:oauth:2.0:oob", client: cli))
        #expect(!Gateway.validRedirectURI("https://127.0.0.1:8000/cb", client: cli))
        #expect(!Gateway.validRedirectURI("http://127.0.0.1.evil.example/cb", client: cli))
        // Names shaped like an address are names, not loopback literals.
        for name in ["127.a.evil.example", "127.0.0.evil", "127.0.0.1x", "127.1", "127.0.0.256", "0x7f.0.0.1", "127.0.0.1.", "::2", "localhost.evil.example"] {
            #expect(!Gateway.validRedirectURI("http://\(name)/cb", client: cli), "\(name)")
            #expect(!Gateway.validRedirectURI("http://\(name):8000/cb", client: cli), "\(name)")
        }
        #expect(!Gateway.validRedirectURI("http://127.0.0.1@evil.example/cb", client: cli))
        #expect(Gateway.validRedirectURI("http://127.255.0.9:8000/cb", client: cli))
        #expect(Gateway.validRedirectURI("http://[0:0:0:0:0:0:0:1]:8000/cb", client: cli))
        #expect(!Gateway.validRedirectURI("http://[::2]:8000/cb", client: cli))
        // Dex's device callback loads from a config but is never a redirect target.
        let device = Client(id: "incus", redirectURIs: ["https://app.example/cb", "/device/callback"], isPublic: true)
        #expect(Gateway.validRedirectURI("https://app.example/cb", client: device))
        #expect(!Gateway.validRedirectURI("/device/callback", client: device))
    }

    @Test("the link back to the connector chooser keeps what the client asked: prompt, max_age, forced approval, PKCE")
    func backQueryKeepsTheRequest() async throws {
        let gateway = try await Self.makeGateway()
        let request = AuthRequest(id: "r", clientID: "example-app", scopes: ["openid", "email"], redirectURI: "http://127.0.0.1:5555/callback",
                                  nonce: "n", state: "s t", forceApprovalPrompt: true, expiry: Date(),
                                  pkce: PKCE(codeChallenge: "c", codeChallengeMethod: "S256"), prompt: "login", maxAge: 300)
        let query = FormParameters(encoded: gateway.backQuery(request))
        #expect(query["prompt"] == "login")
        #expect(query["max_age"] == "300")
        #expect(query["approval_prompt"] == "force")
        #expect(query["state"] == "s t" && query["nonce"] == "n" && query["scope"] == "openid email")
        #expect(query["code_challenge"] == "c" && query["code_challenge_method"] == "S256")
        let consent = FormParameters(encoded: gateway.backQuery(AuthRequest(id: "r", clientID: "c", redirectURI: "http://x/cb", forceApprovalPrompt: true,
                                                                             expiry: Date(), prompt: "consent")))
        #expect(consent["prompt"] == "consent" && consent["approval_prompt"] == nil)
        #expect(FormParameters(encoded: gateway.backQuery(AuthRequest(id: "r", clientID: "c", redirectURI: "http://x/cb", expiry: Date())))["max_age"] == nil)
    }

    @Test("errors go back in the fragment when the response type puts tokens there, else in the query")
    func errorResponseMode() async throws {
        let gateway = try await Self.makeGateway(yaml: Self.yaml.replacingOccurrences(
            of: "  skipApprovalScreen: true\n", with: "  skipApprovalScreen: true\n  responseTypes: [code, \"id_token token\", id_token]\n"))
        try await Application(router: gateway.router()).test(.live) { client in
            let base = "/dex/auth?client_id=example-app&redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcallback&scope=openid&state=st&nonce=n&prompt=none"
            for (responseType, fragment) in [("code", false), ("id_token+token", true), ("id_token", true)] {
                let location = try await client.execute(uri: base + "&response_type=" + responseType, method: .get) { $0.headers[.location] }
                let redirect = try #require(location, "\(responseType)")
                let separator = fragment ? "http://127.0.0.1:5555/callback#" : "http://127.0.0.1:5555/callback?"
                #expect(redirect.hasPrefix(separator + "error=login_required"), "\(responseType): \(redirect)")
                #expect(redirect.contains("state=st"))
            }
            // An unsupported response type cannot say where it wanted its answer: the query.
            let location = try await client.execute(uri: base + "&response_type=token+bogus", method: .get) { $0.headers[.location] }
            #expect(location?.hasPrefix("http://127.0.0.1:5555/callback?error=unsupported_response_type") == true)
        }
    }

    @Test("an upstream's error text in a callback link is logged, never shown on the page")
    func callbackErrorTextNotReflected() async throws {
        let gateway = try await Self.makeGateway()
        try await Application(router: gateway.router()).test(.live) { client in
            let auth = "/dex/auth?client_id=example-app&redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcallback&response_type=code&scope=openid&connector_id=mock"
            let location = try #require(try await client.execute(uri: auth, method: .get) { $0.headers[.location] })
            let state = try #require(URLComponents(string: location)?.queryItems?.first { $0.name == "state" }?.value)
            _ = try await client.execute(uri: "/dex/auth/mock?state=\(state)", method: .get) { $0.status }
            let uri = "/dex/callback?state=\(state)&error=access_denied&error_description=Your+account+is+locked%2C+call+555-0100"
            try await client.execute(uri: uri, method: .get) { r in
                #expect(r.status == .badRequest)
                let page = String(buffer: r.body)
                #expect(page.contains("did not complete the login"))
                #expect(!page.contains("555-0100") && !page.contains("locked"))
            }
        }
    }

    @Test("PKCE verification: S256, plain, wrong verifier, missing verifier")
    func pkce() throws {
        let verifier = String(repeating: "a", count: 43)
        let s256 = PKCE(codeChallenge: Base64URL.encode(SHA256.hash(data: Data(verifier.utf8))), codeChallengeMethod: "S256")
        try Gateway.verifyPKCE(s256, verifier: verifier)
        #expect(throws: OAuthError.self) { try Gateway.verifyPKCE(s256, verifier: String(repeating: "b", count: 43)) }
        #expect(throws: OAuthError.self) { try Gateway.verifyPKCE(s256, verifier: nil) }
        try Gateway.verifyPKCE(PKCE(codeChallenge: verifier, codeChallengeMethod: "plain"), verifier: verifier)
        #expect(throws: OAuthError.self) { try Gateway.verifyPKCE(PKCE(), verifier: verifier) }
        try Gateway.verifyPKCE(PKCE(), verifier: nil)
    }

    @Test("form decoding: plus is space, percent-decoding, duplicates are reported")
    func formParameters() {
        let p = FormParameters(encoded: "scope=openid+email&redirect_uri=http%3A%2F%2Fx%2F&state=a&state=b&empty=")
        #expect(p["scope"] == "openid email")
        #expect(p["redirect_uri"] == "http://x/")
        #expect(p["empty"] == nil)
        #expect(p.duplicates == ["state"])
        // Empty pairs, a pair without `=`, a value holding `=`, an empty or undecodable key.
        let q = FormParameters(encoded: "&&a=1&&flag&eq=x=y&=lost&%ZZ=bad&v=%ZZ&last=z&")
        #expect(q["a"] == "1" && q["eq"] == "x=y" && q["last"] == "z")
        #expect(q["flag"] == nil && q.keys.contains("flag"))
        #expect(q["v"] == nil && q.keys.contains("v"))
        #expect(Set(q.keys) == ["a", "flag", "eq", "v", "last"])
        #expect(q.duplicates.isEmpty)
        #expect(Set(FormParameters(encoded: "x=1&y=2"[...].dropFirst(0)).keys) == ["x", "y"])
        #expect(FormParameters(encoded: "").keys.isEmpty)
        #expect(FormParameters(encoded: "k=a&k=").duplicates == ["k"])
        #expect(FormParameters.append([("code", "a b"), ("state", "x&y")], to: "http://h/cb?k=v") == "http://h/cb?k=v&code=a%20b&state=x%26y")
    }
}
