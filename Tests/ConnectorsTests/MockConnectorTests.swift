import Connectors
import FedgateCore
import Foundation
import Testing

@Suite("mockCallback connector")
struct MockCallbackConnectorTests {
    let connector = MockCallbackConnector(id: "mock")
    let kilgore = UpstreamIdentity(
        userID: "0-385-28089-0", username: "Kilgore Trout", email: "kilgore@kilgore.trout",
        emailVerified: true, groups: ["authors"], connectorData: Data("foobar".utf8)
    )

    @Test("loginURL sends the browser straight back with the state", arguments: [
        ("http://127.0.0.1:5556/dex/callback", "xyz", "http://127.0.0.1:5556/dex/callback?state=xyz"),
        ("http://127.0.0.1:5556/dex/callback?foo=bar", "xyz", "http://127.0.0.1:5556/dex/callback?foo=bar&state=xyz"),
        ("http://127.0.0.1:5556/dex/callback?state=old&foo=bar", "new", "http://127.0.0.1:5556/dex/callback?foo=bar&state=new"),
        ("https://dex.example.com/callback", "a b&c=d/é", "https://dex.example.com/callback?state=a%20b%26c%3Dd%2F%C3%A9"),
    ])
    func loginURL(callbackURL: String, state: String, expected: String) async throws {
        let redirect = try await connector.loginURL(scopes: ConnectorScopes(), callbackURL: callbackURL, state: state)
        #expect(redirect.url == expected)
        #expect(redirect.connectorData == nil)
        let items = URLComponents(string: redirect.url)?.queryItems ?? []
        #expect(items.filter { $0.name == "state" }.map(\.value) == [state])
    }

    @Test("loginURL rejects a callback URL that is not absolute")
    func badCallbackURL() async {
        await #expect(throws: ConnectorError.invalidConfig("")) {
            try await connector.loginURL(scopes: ConnectorScopes(), callbackURL: "not a url", state: "s")
        }
    }

    @Test("the callback, refresh and token exchange all return Dex's fixed identity")
    func fixedIdentity() async throws {
        #expect(try await connector.handleCallback(scopes: ConnectorScopes(), connectorData: nil, query: ["code": "ignored"]) == kilgore)
        let stale = UpstreamIdentity(userID: "0-385-28089-0", username: "old name")
        #expect(try await connector.refresh(scopes: ConnectorScopes(offlineAccess: true), identity: stale) == kilgore)
        #expect(try await connector.tokenIdentity(subjectTokenType: "urn:ietf:params:oauth:token-type:id_token", subjectToken: "anything") == kilgore)
    }

    @Test("token exchange refuses an empty subject token")
    func emptySubjectToken() async {
        await #expect(throws: ConnectorError.refused("")) {
            try await connector.tokenIdentity(subjectTokenType: "urn:ietf:params:oauth:token-type:access_token", subjectToken: "")
        }
    }
}

@Suite("mockPassword connector")
struct MockPasswordConnectorTests {
    let connector = MockPasswordConnector(id: "mockpw", username: "kilgore", password: "trout")

    @Test("exactly the configured pair logs in as Kilgore Trout")
    func goodLogin() async throws {
        let identity = try await connector.login(username: "kilgore", password: "trout", scopes: ConnectorScopes(groups: true))
        #expect(identity == UpstreamIdentity(
            userID: "0-385-28089-0", username: "Kilgore Trout", email: "kilgore@kilgore.trout", emailVerified: true
        ))
        #expect(connector.prompt == "Username")
    }

    @Test("anything else is a bad login", arguments: [
        ("kilgore", "Trout"), ("Kilgore", "trout"), ("kilgore", ""), ("", "trout"), ("kilgore ", "trout"), ("kilgore", "trout2"),
    ])
    func badLogin(username: String, password: String) async throws {
        #expect(try await connector.login(username: username, password: password, scopes: ConnectorScopes()) == nil)
    }

    @Test("refresh hands the identity back unchanged, as Dex does")
    func refresh() async throws {
        let identity = try #require(try await connector.login(username: "kilgore", password: "trout", scopes: ConnectorScopes()))
        #expect(try await connector.refresh(scopes: ConnectorScopes(), identity: identity) == identity)
    }

    @Test("the config requires both username and password")
    func configValidation() throws {
        let empty = try decodeMockPassword("{}")
        #expect(empty.validate() == [ConfigProblem("username", "is required"), ConfigProblem("password", "is required")])
        let half = try decodeMockPassword(#"{"username": "kilgore"}"#)
        #expect(half.validate().map(\.path) == ["password"])
        let full = try decodeMockPassword(#"{"username": "kilgore", "password": "trout"}"#)
        #expect(full == MockPasswordConfig(username: "kilgore", password: "trout"))
        #expect(full.validate().isEmpty)
    }

    @Test("the config never prints the password")
    func configRedaction() {
        let config = MockPasswordConfig(username: "kilgore", password: "s3cr3t-value")
        #expect(!"\(config)".contains("s3cr3t-value"))
        #expect(!String(reflecting: config).contains("s3cr3t-value"))
        var dumped = ""
        dump(config, to: &dumped)
        #expect(!dumped.contains("s3cr3t-value"))
    }

    func decodeMockPassword(_ json: String) throws -> MockPasswordConfig {
        try JSONDecoder().decode(MockPasswordConfig.self, from: Data(json.utf8))
    }
}
