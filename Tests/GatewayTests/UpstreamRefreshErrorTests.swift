import Connectors
import FedgateCore
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing
@testable import Gateway

/// What a refresh answers for each kind of connector error, and whether the token family lives on.
@Suite("Upstream errors on refresh", .serialized)
struct UpstreamRefreshErrorTests {
    /// The next refresh's outcome, set by the test (nil: the upstream confirms the user).
    static let nextError = Mutex<ConnectorError?>(nil)

    struct ScriptedConfig: ConnectorConfiguration {
        static var connectorType: String { "scriptedRefresh" }
        init(from decoder: any Decoder) throws {}
        func open(id: String, environment: ConnectorEnvironment) async throws -> any Connector { Scripted(id: id) }
    }

    struct Scripted: PasswordConnector, RefreshConnector {
        let id: String
        var prompt: String { "Username" }
        func login(username: String, password: String, scopes: ConnectorScopes) async throws -> UpstreamIdentity? {
            password == "pw" ? UpstreamIdentity(userID: "u-\(username)", username: username, email: "\(username)@example.com", emailVerified: true) : nil
        }
        func refresh(scopes: ConnectorScopes, identity: UpstreamIdentity) async throws -> UpstreamIdentity {
            if let error = UpstreamRefreshErrorTests.nextError.withLock({ $0 }) { throw error }
            return identity
        }
    }

    static let yaml = """
    issuer: http://127.0.0.1:5556/dex
    storage: {type: memory}
    web: {http: 127.0.0.1:0}
    oauth2: {passwordConnector: scripted}
    staticClients:
    - id: example-app
      secret: app-secret
      name: Example App
      redirectURIs: [http://127.0.0.1:5555/callback]
    connectors:
    - type: scriptedRefresh
      id: scripted
      name: Scripted
    """

    @Test("a fault is 503 and keeps the family; a decision about the user is invalid_grant and ends it",
          arguments: [ConnectorError.Code.upstreamError, .invalidConfig, .unreachable, .userNotFound, .refused, .notInRequiredGroups])
    func outcome(_ code: ConnectorError.Code) async throws {
        var registry = ConnectorRegistry.builtIn
        registry.register(ScriptedConfig.self)
        let config = try FedgateConfig.parse(yaml: Self.yaml, file: "upstream-test.yaml", registry: registry, environment: [:])
        let gateway = try await Gateway.make(config: config, logger: Logger(label: "test"))
        let app = Application(router: gateway.router())
        try await app.test(.router) { client in
            func grant(_ pairs: [(String, String)]) async throws -> (HTTPResponse.Status, [String: Any]) {
                try await TokenLifecycleTests.post(client, "/dex/token", as: "example-app", "app-secret", pairs)
            }
            let (status, login) = try await grant([("grant_type", "password"), ("username", "jane"), ("password", "pw"),
                                                   ("scope", "openid offline_access")])
            #expect(status == .ok)
            let token = try #require(login["refresh_token"] as? String)
            let refresh = [("grant_type", "refresh_token"), ("refresh_token", token)]

            Self.nextError.withLock { $0 = ConnectorError(code, "scripted") }
            let (failed, body) = try await grant(refresh)
            Self.nextError.withLock { $0 = nil }
            let (after, _) = try await grant(refresh)
            switch code {
            case .upstreamError, .invalidConfig, .unreachable:
                #expect(failed == .serviceUnavailable, "\(code)")
                #expect(body["error"] as? String == "temporarily_unavailable")
                #expect(after == .ok, "\(code): the family must survive a fault")
            case .userNotFound, .refused, .notInRequiredGroups:
                #expect(failed == .badRequest, "\(code)")
                #expect(body["error"] as? String == "invalid_grant")
                #expect(after == .badRequest, "\(code): the family must be revoked")
            }
        }
    }
}
