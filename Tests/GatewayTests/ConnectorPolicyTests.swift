import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
@testable import Gateway

/// Which connectors a login may use: a connector's `grantTypes` and a client's
/// `allowedConnectors` (Dex's `server/connectors/policy.go`), on every path into a login.
@Suite("Connector policy")
struct ConnectorPolicyTests {
    /// `kube` may only use `mock`; the `pwonly` connector only serves the password grant.
    static let yaml = FlowTests.yaml
        .replacingOccurrences(of: "  trustedPeers: [example-app]\n", with: "  trustedPeers: [example-app]\n  allowedConnectors: [mock]\n")
        .replacingOccurrences(of: "connectors:\n- type: mockCallback\n  id: mock\n  name: Example\n", with: """
            connectors:
            - type: mockCallback
              id: mock
              name: Example
            - type: mockPassword
              id: pwonly
              name: Password only
              grantTypes: [password]
              config: {username: u, password: p}

            """)

    static func makeGateway() async throws -> Gateway {
        let config = try FedgateConfig.parse(yaml: yaml, file: "policy.yaml", environment: [:])
        #expect(config.staticClients.first { $0.id == "kube" }?.allowedConnectors == ["mock"])
        #expect(config.connectors.count == 2)
        return try await Gateway.make(config: config, logger: Logger(label: "test"))
    }

    static func auth(_ client: String, _ redirect: String, connector: String? = nil) -> String {
        "/dex/auth?client_id=\(client)&redirect_uri=\(FormParameters.encode(redirect))&response_type=code&scope=openid&state=s"
            + (connector.map { "&connector_id=\($0)" } ?? "")
    }

    @Test("the chooser lists only usable connectors; a restricted client goes straight to its one connector")
    func chooser() async throws {
        let gateway = try await Self.makeGateway()
        try await Application(router: gateway.router()).test(.live) { client in
            // example-app may use mock and local (pwonly serves only the password grant).
            try await client.execute(uri: Self.auth("example-app", "http://127.0.0.1:5555/callback"), method: .get) { r in
                #expect(r.status == .ok)
                let page = String(buffer: r.body)
                #expect(page.contains("/dex/auth/mock?") && page.contains("/dex/auth/local?"))
                #expect(!page.contains("/dex/auth/pwonly?"))
            }
            // kube may only use mock: no chooser.
            try await client.execute(uri: Self.auth("kube", "http://127.0.0.1:5555/kube"), method: .get) { r in
                #expect(r.status == .found)
                #expect(r.headers[.location]?.hasPrefix("/dex/auth/mock?state=") == true)
            }
        }
    }

    @Test("a connector the client or the grant may not use is refused on every path into a login")
    func refused() async throws {
        let gateway = try await Self.makeGateway()
        try await Application(router: gateway.router()).test(.live) { client in
            // Deep links.
            for (id, redirect, connector) in [("kube", "http://127.0.0.1:5555/kube", "local"),
                                              ("example-app", "http://127.0.0.1:5555/callback", "pwonly")] {
                try await client.execute(uri: Self.auth(id, redirect, connector: connector), method: .get) { r in
                    #expect(r.status == .badRequest, "\(id) via \(connector)")
                    #expect(String(buffer: r.body).contains("cannot be used to log in"))
                }
            }
            // A login started for kube, then steered by hand to /auth/local and its password form.
            let location = try await client.execute(uri: Self.auth("kube", "http://127.0.0.1:5555/kube"), method: .get) { $0.headers[.location] }
            let state = try #require(location.flatMap { URLComponents(string: $0)?.queryItems?.first { $0.name == "state" }?.value })
            for path in ["/dex/auth/local?state=\(state)", "/dex/auth/local/login?state=\(state)"] {
                try await client.execute(uri: path, method: .get) { r in #expect(r.status == .badRequest, "\(path)") }
            }
            let post = FlowTests.form([("state", state), ("login", "admin@example.com"), ("password", "password")])
            try await client.execute(uri: "/dex/auth/local/login", method: .post, headers: FlowTests.formHeaders, body: post) { r in
                #expect(r.status == .badRequest)
                #expect(r.headers[.location] == nil)
            }
            // The password grant (through local) for kube.
            let grant = FlowTests.form([("grant_type", "password"), ("username", "admin@example.com"), ("password", "password"), ("scope", "openid")])
            let (status, error) = try await client.execute(uri: "/dex/token", method: .post, headers: FlowTests.basic("kube", "kube-secret"), body: grant) { r in
                (r.status, try FlowTests.json(r.body)["error"] as? String)
            }
            #expect(status == .badRequest)
            #expect(error == "unauthorized_client")
            // example-app may still use the password grant.
            try await client.execute(uri: "/dex/token", method: .post, headers: FlowTests.basic("example-app", "app-secret"), body: grant) { r in
                #expect(r.status == .ok)
            }
        }
    }

    @Test("allowedConnectors naming no connector is a config error")
    func unknownConnector() throws {
        let yaml = FlowTests.yaml.replacingOccurrences(of: "  trustedPeers: [example-app]\n",
                                                       with: "  trustedPeers: [example-app]\n  allowedConnectors: [mock, ldap]\n")
        #expect(throws: ConfigErrors.self) { try FedgateConfig.parse(yaml: yaml, file: "policy.yaml", environment: [:]) }
        do {
            _ = try FedgateConfig.parse(yaml: yaml, file: "policy.yaml", environment: [:])
        } catch let errors as ConfigErrors {
            #expect(errors.lines == ["staticClients[2].allowedConnectors[1]: no connector with id \"ldap\""])
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
