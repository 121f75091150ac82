import Crypto
import FedgateCore
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Signing
import Storage
import Synchronization
import Testing
@testable import Gateway

/// Beyond Dex: several refresh tokens per user and client, RFC 7009 revocation and RFC 7662
/// introspection with client authentication.
@Suite("Token lifecycle")
struct TokenLifecycleTests {
    /// Logs in through the mock connector (no pages: skipApprovalScreen) and exchanges the code.
    static func login(_ client: some TestClientProtocol, scope: String = "openid email groups offline_access") async throws -> [String: Any] {
        let auth = "/dex/auth?client_id=example-app&redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcallback&response_type=code"
            + "&scope=\(scope.replacingOccurrences(of: " ", with: "+"))&state=st&connector_id=mock"
        var location = try await client.execute(uri: auth, method: .get) { $0.headers[.location] }
        for _ in 0..<3 {
            guard let current = location, current.hasPrefix("/dex") || current.hasPrefix("http://127.0.0.1:5556") else { break }
            location = try await client.execute(uri: current.replacingOccurrences(of: "http://127.0.0.1:5556", with: ""), method: .get) { $0.headers[.location] }
        }
        let code = try #require(location.flatMap { URLComponents(string: $0)?.queryItems?.first { $0.name == "code" }?.value })
        let body = FlowTests.form([("grant_type", "authorization_code"), ("code", code), ("redirect_uri", "http://127.0.0.1:5555/callback")])
        return try await client.execute(uri: "/dex/token", method: .post, headers: FlowTests.basic("example-app", "app-secret"), body: body) { r in
            #expect(r.status == .ok)
            return try FlowTests.json(r.body)
        }
    }

    static func post(_ client: some TestClientProtocol, _ path: String, as id: String, _ secret: String, _ pairs: [(String, String)]) async throws -> (HTTPResponse.Status, [String: Any]) {
        try await client.execute(uri: path, method: .post, headers: FlowTests.basic(id, secret), body: FlowTests.form(pairs)) { r in
            (r.status, r.body.readableBytes == 0 ? [:] : try FlowTests.json(r.body))
        }
    }

    @Test("two logins of one user and client give two refresh tokens that both keep working")
    func twoDevices() async throws {
        let gateway = try await FlowTests.makeGateway()
        try await Application(router: gateway.router()).test(.live) { client in
            let laptop1 = try #require(try await Self.login(client)["refresh_token"] as? String)
            let laptop2 = try #require(try await Self.login(client)["refresh_token"] as? String)
            #expect(laptop1 != laptop2)
            for token in [laptop1, laptop2] {
                let (status, _) = try await Self.post(client, "/dex/token", as: "example-app", "app-secret",
                                                      [("grant_type", "refresh_token"), ("refresh_token", token)])
                #expect(status == .ok)
            }
            let sessions = try await gateway.storage.listOfflineSessions(userID: "0-385-28089-0")
            #expect(sessions.first?.refresh.count == 2)
        }
    }

    @Test("introspection reports the client's own tokens and hides other clients' tokens")
    func introspection() async throws {
        let gateway = try await FlowTests.makeGateway()
        try await Application(router: gateway.router()).test(.live) { client in
            let tokens = try await Self.login(client)
            let access = try #require(tokens["access_token"] as? String)
            let refresh = try #require(tokens["refresh_token"] as? String)

            let (s1, own) = try await Self.post(client, "/dex/token/introspect", as: "example-app", "app-secret", [("token", access)])
            #expect(s1 == .ok)
            #expect(own["active"] as? Bool == true)
            #expect(own["client_id"] as? String == "example-app")
            #expect(own["sub"] as? String == DexEncoding.subject(userID: "0-385-28089-0", connectorID: "mock"))
            #expect((own["scope"] as? String)?.contains("offline_access") == true)
            #expect(own["exp"] is Int)
            // Dex's shape: Bearer, token_use, nbf, aud as a string for one audience, claims in ext.
            #expect(own["token_type"] as? String == "Bearer")
            #expect(own["token_use"] as? String == "access_token")
            #expect(own["nbf"] as? Int == own["iat"] as? Int)
            #expect(own["aud"] as? String == "example-app")
            let ext = try #require(own["ext"] as? [String: Any])
            #expect(ext["email"] as? String != nil)   // federated_claims only with the federated:id scope, as in the token

            let (_, other) = try await Self.post(client, "/dex/token/introspect", as: "kube", "kube-secret", [("token", access)])
            #expect(other["active"] as? Bool == false)
            #expect(other["sub"] == nil)

            let (_, refreshInfo) = try await Self.post(client, "/dex/token/introspect", as: "example-app", "app-secret", [("token", refresh)])
            #expect(refreshInfo["active"] as? Bool == true)
            #expect(refreshInfo["token_type"] as? String == "Bearer")
            #expect(refreshInfo["token_use"] as? String == "refresh_token")
            #expect(refreshInfo["aud"] as? String == "example-app")
            let refreshExt = try #require(refreshInfo["ext"] as? [String: Any])
            #expect((refreshExt["federated_claims"] as? [String: Any])?["connector_id"] as? String == "mock")
            #expect(refreshExt["email"] as? String == ext["email"] as? String)
            #expect(refreshExt["groups"] as? [String] == ext["groups"] as? [String])

            // A wrong token_type_hint is only a hint (RFC 7662 §2.1): both tokens are still found.
            let (_, hintedAccess) = try await Self.post(client, "/dex/token/introspect", as: "example-app", "app-secret",
                                                        [("token", access), ("token_type_hint", "refresh_token")])
            #expect(hintedAccess["active"] as? Bool == true)
            #expect(hintedAccess["client_id"] as? String == "example-app")
            let (_, hintedRefresh) = try await Self.post(client, "/dex/token/introspect", as: "example-app", "app-secret",
                                                         [("token", refresh), ("token_type_hint", "access_token")])
            #expect(hintedRefresh["active"] as? Bool == true)
            #expect(hintedRefresh["token_use"] as? String == "refresh_token")

            let (badAuth, _) = try await Self.post(client, "/dex/token/introspect", as: "example-app", "wrong", [("token", access)])
            #expect(badAuth == .unauthorized)
            let (_, garbage) = try await Self.post(client, "/dex/token/introspect", as: "example-app", "app-secret", [("token", "nonsense")])
            #expect(garbage["active"] as? Bool == false)
        }
    }

    @Test("a token older than the previous one revokes the family after reuseInterval, and is only refused within it")
    func olderTokenReplay() async throws {
        let gateway = try await FlowTests.makeGateway()   // reuseInterval: 2s
        try await Application(router: gateway.router()).test(.live) { client in
            func refresh(_ token: String) async throws -> (HTTPResponse.Status, [String: Any]) {
                try await Self.post(client, "/dex/token", as: "example-app", "app-secret",
                                    [("grant_type", "refresh_token"), ("refresh_token", token)])
            }
            let t1 = try #require(try await Self.login(client)["refresh_token"] as? String)
            let t2 = try #require(try await refresh(t1).1["refresh_token"] as? String)
            let t3 = try #require(try await refresh(t2).1["refresh_token"] as? String)
            #expect(Set([t1, t2, t3]).count == 3)

            // Within the interval of the last rotation: a late retry, refused, the family lives.
            let (early, earlyError) = try await refresh(t1)
            #expect(early == .badRequest)
            #expect(earlyError["error"] as? String == "invalid_grant")
            let t4 = try #require(try await refresh(t3).1["refresh_token"] as? String)

            // After it: t1 and t2 leaked; presenting either ends the family, t4 included.
            try await Task.sleep(for: .milliseconds(2300))
            let (late, lateError) = try await refresh(t1)
            #expect(late == .badRequest)
            #expect(lateError["error"] as? String == "invalid_grant")
            let (current, currentError) = try await refresh(t4)
            #expect(current == .badRequest)
            #expect(currentError["error"] as? String == "invalid_grant")
            #expect(try await gateway.storage.listRefreshTokens().isEmpty)
        }
    }

    @Test("revoking the family also ends the access token a hybrid flow gave with the code")
    func hybridAccessTokenEndsWithFamily() async throws {
        let gateway = try await FlowTests.makeGateway(yaml: FlowTests.yaml.replacingOccurrences(
            of: "  skipApprovalScreen: true\n", with: "  skipApprovalScreen: true\n  responseTypes: [code, \"code token\"]\n"))
        try await Application(router: gateway.router()).test(.live) { client in
            let auth = "/dex/auth?client_id=example-app&redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcallback&response_type=code+token"
                + "&scope=openid+offline_access&nonce=n&connector_id=mock"
            var location = try await client.execute(uri: auth, method: .get) { $0.headers[.location] }
            for _ in 0..<3 {
                guard let current = location, current.hasPrefix("/dex") || current.hasPrefix("http://127.0.0.1:5556") else { break }
                location = try await client.execute(uri: current.replacingOccurrences(of: "http://127.0.0.1:5556", with: ""), method: .get) { $0.headers[.location] }
            }
            let fragment = FormParameters(encoded: String(try #require(location?.split(separator: "#", maxSplits: 1).last)))
            let frontAccess = try #require(fragment["access_token"])
            let code = try #require(fragment["code"])
            let (ok, tokens) = try await Self.post(client, "/dex/token", as: "example-app", "app-secret",
                [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", "http://127.0.0.1:5555/callback")])
            #expect(ok == .ok)
            let refresh = try #require(tokens["refresh_token"] as? String)
            let (_, before) = try await Self.post(client, "/dex/token/introspect", as: "example-app", "app-secret", [("token", frontAccess)])
            #expect(before["active"] as? Bool == true)
            let (revoked, _) = try await Self.post(client, "/dex/token/revoke", as: "example-app", "app-secret", [("token", refresh)])
            #expect(revoked == .ok)
            let (_, after) = try await Self.post(client, "/dex/token/introspect", as: "example-app", "app-secret", [("token", frontAccess)])
            #expect(after["active"] as? Bool == false)
        }
    }

    @Test("a storage fault while revoking answers 503 and leaves what the retry completes: no reference to a deleted token")
    func revocationFault() async throws {
        let base = try await FlowTests.makeGateway()
        let (gateway, faulty) = try FaultyStorage.wrap(base)
        try await Application(router: gateway.router()).test(.live) { client in
            for operation in ["updateOfflineSession", "deleteRefreshToken"] {
                let refresh = try #require(try await Self.login(client)["refresh_token"] as? String)
                let id = try #require(DexEncoding.decodeRefreshToken(refresh)?.id)
                #expect(try await faulty.listOfflineSessions(userID: "0-385-28089-0").contains { $0.refresh[id] != nil })
                faulty.fail(operation, times: 1)
                let (failed, error) = try await Self.post(client, "/dex/token/revoke", as: "example-app", "app-secret", [("token", refresh)])
                #expect(failed == .serviceUnavailable, "\(operation)")
                #expect(error["error"] as? String == "temporarily_unavailable")
                let (retried, _) = try await Self.post(client, "/dex/token/revoke", as: "example-app", "app-secret", [("token", refresh)])
                #expect(retried == .ok)
                let refs = try await faulty.listOfflineSessions(userID: "0-385-28089-0").flatMap { $0.refresh.keys }
                #expect(!refs.contains(id), "\(operation): the session still names the revoked token")
                #expect(try await faulty.listRefreshTokens().allSatisfy { $0.id != id })
            }
        }
    }

    @Test("revoking a refresh token ends its family; another client may not revoke it")
    func revocation() async throws {
        let gateway = try await FlowTests.makeGateway()
        try await Application(router: gateway.router()).test(.live) { client in
            let tokens = try await Self.login(client)
            let first = try #require(tokens["refresh_token"] as? String)
            // Rotate once, so both the old and the current secret belong to the family.
            let (_, rotated) = try await Self.post(client, "/dex/token", as: "example-app", "app-secret",
                                                   [("grant_type", "refresh_token"), ("refresh_token", first)])
            let current = try #require(rotated["refresh_token"] as? String)

            let (forbidden, error) = try await Self.post(client, "/dex/token/revoke", as: "kube", "kube-secret", [("token", current)])
            #expect(forbidden == .badRequest)
            #expect(error["error"] as? String == "unauthorized_client")

            let (ok, _) = try await Self.post(client, "/dex/token/revoke", as: "example-app", "app-secret", [("token", first)])
            #expect(ok == .ok)
            let (after, afterError) = try await Self.post(client, "/dex/token", as: "example-app", "app-secret",
                                                          [("grant_type", "refresh_token"), ("refresh_token", current)])
            #expect(after == .badRequest)
            #expect(afterError["error"] as? String == "invalid_grant")
            let (_, info) = try await Self.post(client, "/dex/token/introspect", as: "example-app", "app-secret", [("token", current)])
            #expect(info["active"] as? Bool == false)
            // The family's access tokens, from the login and from the refresh, end with it
            // (RFC 7009 §2.1) for introspection and userinfo; another login's do not.
            let other = try #require(try await Self.login(client)["access_token"] as? String)
            for access in [tokens["access_token"], rotated["access_token"]].compactMap({ $0 as? String }) {
                let (_, accessInfo) = try await Self.post(client, "/dex/token/introspect", as: "example-app", "app-secret", [("token", access)])
                #expect(accessInfo["active"] as? Bool == false)
                try await client.execute(uri: "/dex/userinfo", method: .get, headers: [.authorization: "Bearer \(access)"]) { r in
                    #expect(r.status == .unauthorized)
                }
            }
            let (_, otherInfo) = try await Self.post(client, "/dex/token/introspect", as: "example-app", "app-secret", [("token", other)])
            #expect(otherInfo["active"] as? Bool == true)
            try await client.execute(uri: "/dex/userinfo", method: .get, headers: [.authorization: "Bearer \(other)"]) { r in
                #expect(r.status == .ok)
            }

            // Unknown tokens are answered 200 (RFC 7009 §2.2); access tokens cannot be revoked.
            let (unknown, _) = try await Self.post(client, "/dex/token/revoke", as: "example-app", "app-secret", [("token", "nonsense")])
            #expect(unknown == .ok)
            let access = try #require(tokens["access_token"] as? String)
            let (jwt, jwtError) = try await Self.post(client, "/dex/token/revoke", as: "example-app", "app-secret", [("token", access)])
            #expect(jwt == .badRequest)
            #expect(jwtError["error"] as? String == "unsupported_token_type")
        }
    }
}

@Suite("Authorization code reuse")
struct CodeReuseTests {
    @Test("a reused code fails with invalid_grant and revokes the refresh token it issued")
    func reuseRevokes() async throws {
        let gateway = try await FlowTests.makeGateway()
        try await Application(router: gateway.router()).test(.live) { client in
            let code = try await Self.code(client)
            let exchange = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", "http://127.0.0.1:5555/callback")]
            let (ok, tokens) = try await TokenLifecycleTests.post(client, "/dex/token", as: "example-app", "app-secret", exchange)
            #expect(ok == .ok)
            let refresh = try #require(tokens["refresh_token"] as? String)

            let (again, error) = try await TokenLifecycleTests.post(client, "/dex/token", as: "example-app", "app-secret", exchange)
            #expect(again == .badRequest)
            #expect(error["error"] as? String == "invalid_grant")

            let (afterReuse, refreshError) = try await TokenLifecycleTests.post(client, "/dex/token", as: "example-app", "app-secret",
                                                                               [("grant_type", "refresh_token"), ("refresh_token", refresh)])
            #expect(afterReuse == .badRequest)
            #expect(refreshError["error"] as? String == "invalid_grant")
            // The access token the code gave is over too.
            let access = try #require(tokens["access_token"] as? String)
            let (_, info) = try await TokenLifecycleTests.post(client, "/dex/token/introspect", as: "example-app", "app-secret", [("token", access)])
            #expect(info["active"] as? Bool == false)

            // The marker itself can never be redeemed as a code.
            let (marker, _) = try await TokenLifecycleTests.post(client, "/dex/token", as: "example-app", "app-secret",
                [("grant_type", "authorization_code"), ("code", "redeemed." + code), ("redirect_uri", "http://127.0.0.1:5555/callback")])
            #expect(marker == .badRequest)
        }
    }

    /// A code for example-app through the mock connector, with PKCE S256 when `verifier` is given.
    static func code(_ client: some TestClientProtocol, verifier: String? = nil) async throws -> String {
        var auth = "/dex/auth?client_id=example-app&redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcallback&response_type=code"
            + "&scope=openid+offline_access&connector_id=mock"
        if let verifier {
            auth += "&code_challenge=\(Base64URL.encode(SHA256.hash(data: Data(verifier.utf8))))&code_challenge_method=S256"
        }
        var location = try await client.execute(uri: auth, method: .get) { $0.headers[.location] }
        for _ in 0..<3 {
            guard let current = location, current.hasPrefix("/dex") || current.hasPrefix("http://127.0.0.1:5556") else { break }
            location = try await client.execute(uri: current.replacingOccurrences(of: "http://127.0.0.1:5556", with: ""), method: .get) { $0.headers[.location] }
        }
        return try #require(location.flatMap { URLComponents(string: $0)?.queryItems?.first { $0.name == "code" }?.value })
    }

    static func refreshes(_ client: some TestClientProtocol, _ token: String) async throws -> Bool {
        let (status, _) = try await TokenLifecycleTests.post(client, "/dex/token", as: "example-app", "app-secret",
                                                             [("grant_type", "refresh_token"), ("refresh_token", token)])
        return status == .ok
    }

    /// Exchanges a code whose deletion fails, so it stays in storage; returns the exchange's
    /// parameters and the refresh token it gave.
    static func exchangeLeavingCode(_ client: some TestClientProtocol, _ faulty: FaultyStorage) async throws -> ([(String, String)], String) {
        let code = try await Self.code(client)
        let exchange = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", "http://127.0.0.1:5555/callback")]
        faulty.fail("deleteAuthCode", times: 1)
        let (ok, tokens) = try await TokenLifecycleTests.post(client, "/dex/token", as: "example-app", "app-secret", exchange)
        #expect(ok == .ok)
        _ = try await faulty.getAuthCode(id: code)   // still there
        return (exchange, try #require(tokens["refresh_token"] as? String))
    }

    static func expectReplayRevokes(_ client: some TestClientProtocol, _ exchange: [(String, String)], _ refresh: String) async throws {
        let (again, _) = try await TokenLifecycleTests.post(client, "/dex/token", as: "example-app", "app-secret", exchange)
        #expect(again == .badRequest)
        #expect(try await !Self.refreshes(client, refresh))
    }

    @Test("a replay counts only with the code's verifier: whoever merely intercepted a PKCE code cannot end the session")
    func interceptedCodeReplay() async throws {
        let gateway = try await FlowTests.makeGateway()
        try await Application(router: gateway.router()).test(.live) { client in
            let verifier = String(repeating: "k", count: 48)
            let code = try await Self.code(client, verifier: verifier)
            var exchange = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", "http://127.0.0.1:5555/callback")]
            let (ok, tokens) = try await TokenLifecycleTests.post(client, "/dex/token", as: "example-app", "app-secret",
                                                                  exchange + [("code_verifier", verifier)])
            #expect(ok == .ok)
            let refresh = try #require(tokens["refresh_token"] as? String)

            for attempt in [exchange, exchange + [("code_verifier", String(repeating: "x", count: 48))]] {
                let (status, error) = try await TokenLifecycleTests.post(client, "/dex/token", as: "example-app", "app-secret", attempt)
                #expect(status == .badRequest)
                #expect(error["error"] as? String == "invalid_grant")
            }
            let (_, info) = try await TokenLifecycleTests.post(client, "/dex/token/introspect", as: "example-app", "app-secret",
                                                               [("token", try #require(tokens["access_token"] as? String))])
            #expect(info["active"] as? Bool == true)

            // The client itself presenting it again, verifier and all: a replay, the family ends.
            exchange.append(("code_verifier", verifier))
            let (again, _) = try await TokenLifecycleTests.post(client, "/dex/token", as: "example-app", "app-secret", exchange)
            #expect(again == .badRequest)
            #expect(try await !Self.refreshes(client, refresh))
        }
    }

    @Test("a storage fault after the code is claimed answers 503 and takes the claim back, so the retry redeems the code")
    func faultReleasesClaim() async throws {
        let base = try await FlowTests.makeGateway()
        let (gateway, faulty) = try FaultyStorage.wrap(base)
        try await Application(router: gateway.router()).test(.live) { client in
            // The failing step, and how many times the release's first step fails after it (the
            // release keeps trying in the background).
            for (operation, releaseFaults) in [("createRefreshToken", 0), ("updateOfflineSession", 0), ("createRefreshToken", 3)] {
                let code = try await Self.code(client)
                let exchange = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", "http://127.0.0.1:5555/callback")]
                faulty.fail(operation, times: 1)
                if releaseFaults > 0 { faulty.fail("updateOfflineSession", times: releaseFaults) }
                let (failed, error) = try await TokenLifecycleTests.post(client, "/dex/token", as: "example-app", "app-secret", exchange)
                #expect(failed == .serviceUnavailable, "\(operation)")
                #expect(error["error"] as? String == "temporarily_unavailable")
                var released = false
                for _ in 0..<200 where !released {
                    released = (try? await base.storage.getAuthCode(id: "redeemed." + code)) == nil
                    if !released { try await Task.sleep(for: .milliseconds(25)) }
                }
                #expect(released, "\(operation), \(releaseFaults): the claim was taken back")
                #expect(try await faulty.listRefreshTokens().isEmpty, "the half-made family is gone")
                #expect(try await faulty.listOfflineSessions(userID: "0-385-28089-0").allSatisfy { $0.refresh.isEmpty })

                let (retried, tokens) = try await TokenLifecycleTests.post(client, "/dex/token", as: "example-app", "app-secret", exchange)
                #expect(retried == .ok, "\(operation)")
                let refresh = try #require(tokens["refresh_token"] as? String)
                #expect(try await Self.refreshes(client, refresh))
                let id = try #require(DexEncoding.decodeRefreshToken(refresh)?.id)
                try await faulty.updateOfflineSession(userID: "0-385-28089-0", connectorID: "mock") { $0.refresh[id] = nil }
                try await faulty.deleteRefreshToken(id: id)
            }
            // Failing to tidy the code away afterwards fails nothing: the claim already holds it.
            let (exchange, refresh) = try await Self.exchangeLeavingCode(client, faulty)
            try await Self.expectReplayRevokes(client, exchange, refresh)
        }
    }

    @Test("an offline session created or deleted by someone else mid-login is a race tried again, not a 500")
    func offlineSessionRace() async throws {
        let base = try await FlowTests.makeGateway()
        let (gateway, faulty) = try FaultyStorage.wrap(base)
        try await Application(router: gateway.router()).test(.live) { client in
            _ = try await TokenLifecycleTests.login(client)   // the session exists
            // Gone when updated, there again when created, gone again when updated: then it is back.
            faulty.fail("updateOfflineSession", times: 2, with: .notFound)
            faulty.fail("createOfflineSession", times: 1, with: .alreadyExists)
            let tokens = try await TokenLifecycleTests.login(client)
            let refresh = try #require(tokens["refresh_token"] as? String)
            let id = try #require(DexEncoding.decodeRefreshToken(refresh)?.id)
            #expect(try await faulty.listOfflineSessions(userID: "0-385-28089-0").contains { $0.refresh[id] != nil })
        }
    }

    @Test("a redeemed code left in storage (its deletion failed) is still a replay after it expires")
    func expiredRedeemedCodeReplay() async throws {
        let clock = Mutex(Date())
        let config = try FedgateConfig.parse(yaml: FlowTests.yaml, file: "flow-test.yaml", environment: [:])
        let base = try await Gateway.make(config: config, logger: Logger(label: "test"), now: { clock.withLock { $0 } })
        let (gateway, faulty) = try FaultyStorage.wrap(base)
        try await Application(router: gateway.router()).test(.live) { client in
            let (exchange, refresh) = try await Self.exchangeLeavingCode(client, faulty)
            clock.withLock { $0 = $0.addingTimeInterval(base.settings.authCodeLifetime + 1) }
            try await Self.expectReplayRevokes(client, exchange, refresh)
        }
    }

    @Test("concurrent exchanges of one code: at most one succeeds, and the replays revoke whatever it issued")
    func concurrentReuseRevokes() async throws {
        let gateway = try await FlowTests.makeGateway()
        try await Application(router: gateway.router()).test(.live) { client in
            // One open connection per exchange, so the exchanges really run at once.
            let port = try #require(client.port)
            let clients = (0..<2).map { _ in TestClient(host: "localhost", port: port) }
            for own in clients {
                own.connect()
                _ = try await own.get("/dex/healthz")
            }
            for _ in 0..<20 {
                let code = try await Self.code(client)
                let exchange = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", "http://127.0.0.1:5555/callback")]
                // Before the fix, a replay landing between the code's deletion and the record of its
                // redemption (or failing to delete it) was refused but revoked nothing.
                let answers = try await withThrowingTaskGroup(of: (HTTPResponse.Status, String?, String?).self) { group in
                    for own in clients {
                        group.addTask {
                            let answer = try await own.post("/dex/token", headers: FlowTests.basic("example-app", "app-secret"),
                                                            body: FlowTests.form(exchange))
                            let body = try answer.body.map(FlowTests.json) ?? [:]
                            return (answer.status, body["error"] as? String, body["refresh_token"] as? String)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                let granted = answers.filter { $0.0 == .ok }
                #expect(granted.count <= 1)
                for (status, error, _) in answers where status != .ok {
                    #expect(status == .badRequest)
                    #expect(error == "invalid_grant")
                }
                if let refresh = granted.first?.2 {
                    let (after, error) = try await TokenLifecycleTests.post(client, "/dex/token", as: "example-app", "app-secret",
                                                                            [("grant_type", "refresh_token"), ("refresh_token", refresh)])
                    #expect(after == .badRequest)
                    #expect(error["error"] as? String == "invalid_grant")
                }
            }
            // Every family the codes created is gone, whichever exchange won.
            #expect(try await gateway.storage.listRefreshTokens().isEmpty)
            for own in clients { try await own.shutdown() }
        }
    }
}

@Suite("Brute-force protection")
struct ThrottleTests {
    static let yaml = FlowTests.yaml.replacingOccurrences(of: "  passwordConnector: local\n", with: """
      passwordConnector: local
      passwordPolicy:
        maxFailures: 3
        maxFailuresPerIP: 100
        lockout: 3s
        window: 1m

    """)

    @Test("the password grant answers 429 with Retry-After after maxFailures, for real and unknown users alike, then recovers")
    func passwordGrantThrottle() async throws {
        let config = try FedgateConfig.parse(yaml: Self.yaml, file: "throttle.yaml", environment: [:])
        #expect(config.oauth2.passwordPolicy.maxFailures == 3)
        let gateway = try await Gateway.make(config: config, logger: Logger(label: "test"))
        try await Application(router: gateway.router()).test(.live) { client in
            func attempt(_ user: String, _ password: String) async throws -> (HTTPResponse.Status, String?) {
                let body = FlowTests.form([("grant_type", "password"), ("username", user), ("password", password), ("scope", "openid")])
                return try await client.execute(uri: "/dex/token", method: .post, headers: FlowTests.basic("example-app", "app-secret"), body: body) {
                    ($0.status, $0.headers[.retryAfter])
                }
            }
            for _ in 0..<3 { #expect(try await attempt("admin@example.com", "wrong").0 == .badRequest) }
            let (status, retryAfter) = try await attempt("admin@example.com", "wrong")
            #expect(status == .tooManyRequests)
            #expect(retryAfter.flatMap(Int.init).map { $0 >= 1 && $0 <= 3 } == true)
            // Even the right password waits out the lockout.
            #expect(try await attempt("admin@example.com", "password").0 == .tooManyRequests)
            // An unknown user is treated exactly the same (no user enumeration).
            for _ in 0..<3 { #expect(try await attempt("nobody@example.com", "wrong").0 == .badRequest) }
            #expect(try await attempt("nobody@example.com", "wrong").0 == .tooManyRequests)
            try await Task.sleep(for: .milliseconds(3200))
            #expect(try await attempt("admin@example.com", "password").0 == .ok)
            // Success cleared the count: one more failure is an ordinary invalid_grant.
            #expect(try await attempt("admin@example.com", "wrong").0 == .badRequest)
        }
    }

    @Test("the throttle is shared through storage (a second gateway on the same store sees the lock)")
    func sharedThroughStorage() async throws {
        let config = try FedgateConfig.parse(yaml: Self.yaml, file: "throttle.yaml", environment: [:])
        let storage = MemoryStorage()
        let policy = config.oauth2.passwordPolicy
        let a = LoginThrottler(storage: storage, policy: policy, now: Date.init)
        let b = LoginThrottler(storage: storage, policy: policy, now: Date.init)
        for _ in 0..<3 { try await a.recordFailure(connectorID: "local", username: "Jane", address: "10.0.0.1") }
        #expect(try await b.check(connectorID: "local", username: "jane", address: "10.0.0.2") != .allowed)
        #expect(try await b.check(connectorID: "local", username: "joe", address: "10.0.0.2") == .allowed)
    }

    /// Counts password checks that ran, and how many ran at once.
    final class Checks: @unchecked Sendable {
        private let lock = NSLock()
        private var running = 0
        private(set) var total = 0
        private(set) var mostAtOnce = 0
        func begin() { lock.lock(); running += 1; total += 1; mostAtOnce = max(mostAtOnce, running); lock.unlock() }
        func end() { lock.lock(); running -= 1; lock.unlock() }
    }

    static func guesses(_ throttlers: [LoginThrottler], count: Int, username: String = "jane",
                        verify: @escaping @Sendable () async throws -> String?) async throws -> [LoginThrottler.Outcome<String>] {
        try await withThrowingTaskGroup(of: LoginThrottler.Outcome<String>.self) { group in
            for i in 0..<count {
                group.addTask {
                    try await throttlers[i % throttlers.count].attempt(connectorID: "local", username: username, address: "10.0.\(i).1") {
                        try await verify()
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    static let policy = PasswordPolicySettings(maxFailures: 3, maxFailuresPerIP: 0, window: 60, lockout: 30, maxLockout: 60)

    @Test("concurrent guesses cannot outrun the limit: of 40 at once, maxFailures reach the password check (one more per extra replica)")
    func concurrentGuesses() async throws {
        for replicas in [1, 2] {
            let storage = MemoryStorage()
            let throttlers = (0..<replicas).map { _ in LoginThrottler(storage: storage, policy: Self.policy, now: Date.init) }
            let checks = Checks()
            let outcomes = try await Self.guesses(throttlers, count: 40) {
                checks.begin()
                defer { checks.end() }
                try await Task.sleep(for: .milliseconds(5))  // a password check takes time (bcrypt, LDAP)
                return nil
            }
            #expect(checks.total >= 3 && checks.total <= 3 + (replicas - 1), "\(replicas) replicas: \(checks.total) checks")
            #expect(checks.mostAtOnce <= replicas)
            #expect(outcomes.filter { if case .failed = $0 { true } else { false } }.count == checks.total)
            #expect(outcomes.filter { if case .limited = $0 { true } else { false } }.count == 40 - checks.total)
        }
    }

    @Test("concurrent logins of one user with the right password all succeed, one check after another")
    func concurrentSuccesses() async throws {
        let throttler = LoginThrottler(storage: MemoryStorage(), policy: Self.policy, now: Date.init)
        let checks = Checks()
        let outcomes = try await Self.guesses([throttler], count: 24) {
            checks.begin()
            defer { checks.end() }
            try await Task.sleep(for: .milliseconds(2))
            return "identity"
        }
        #expect(outcomes.allSatisfy { if case .succeeded("identity") = $0 { true } else { false } })
        #expect(checks.mostAtOnce == 1)
    }

    @Test("an upstream error counts nothing and reaches the caller")
    func upstreamErrors() async throws {
        struct Unreachable: Error {}
        let storage = MemoryStorage()
        let throttler = LoginThrottler(storage: storage, policy: Self.policy, now: Date.init)
        for _ in 0..<5 {
            await #expect(throws: Unreachable.self) {
                _ = try await throttler.attempt(connectorID: "local", username: "jane", address: "10.0.0.1") { () async throws -> String? in
                    throw Unreachable()
                }
            }
        }
        #expect(try await throttler.check(connectorID: "local", username: "jane", address: "10.0.0.1") == .allowed)
        #expect(try await storage.listLoginThrottles().isEmpty)
    }
}
