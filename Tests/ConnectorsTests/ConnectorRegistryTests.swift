import Connectors
import FedgateCore
import Foundation
import Logging
import Testing

/// Dex's connector envelope, decoded the two-phase way the config loader does it.
private struct Envelope: Decodable {
    let type: String
    let config: (any ConnectorConfiguration)?

    enum CodingKeys: String, CodingKey { case type, config }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decode(String.self, forKey: .type)
        config = try ConnectorRegistry.builtIn.decode(type: type, from: container.superDecoder(forKey: .config))
    }
}

@Suite("built-in connector registry")
struct ConnectorRegistryTests {
    let environment = ConnectorEnvironment(logger: Logger(label: "test"), passwordDirectory: TestPasswordDirectory([]))

    @Test("registers Dex's names for the built-in types")
    func typeNames() {
        #expect(ConnectorRegistry.builtIn.typeNames == ["ldap", "local", "mockCallback", "mockPassword"])
        #expect(ConnectorRegistry.builtIn.configurationType(for: "saml") == nil)
    }

    @Test("decodes and opens each built-in type", arguments: [
        (#"{"type": "mockCallback", "config": {}}"#, "mockCallback"),
        (#"{"type": "mockCallback"}"#, "mockCallback"),
        (#"{"type": "mockPassword", "config": {"username": "kilgore", "password": "trout"}}"#, "mockPassword"),
        (#"{"type": "local", "config": {}}"#, "local"),
    ])
    func decodeAndOpen(json: String, type: String) async throws {
        let envelope = try JSONDecoder().decode(Envelope.self, from: Data(json.utf8))
        let config = try #require(envelope.config)
        #expect(Swift.type(of: config).connectorType == type)
        #expect(config.validate().isEmpty)
        let connector = try await config.open(id: "c1", environment: environment)
        #expect(connector.id == "c1")
        switch type {
        case "mockCallback": #expect(connector is MockCallbackConnector)
        case "mockPassword": #expect(connector is MockPasswordConnector)
        default: #expect(connector is LocalConnector)
        }
    }

    @Test("an unknown type decodes to nil")
    func unknownType() throws {
        let envelope = try JSONDecoder().decode(Envelope.self, from: Data(#"{"type": "kerberos", "config": {}}"#.utf8))
        #expect(envelope.config == nil)
    }

    @Test("opening an incomplete mockPassword fails like Dex's Open")
    func incompleteMockPassword() async throws {
        let envelope = try JSONDecoder().decode(Envelope.self, from: Data(#"{"type": "mockPassword", "config": {"password": "x"}}"#.utf8))
        let config = try #require(envelope.config)
        #expect(config.validate() == [ConfigProblem("username", "is required")])
        await #expect(throws: ConnectorError.invalidConfig("")) {
            try await config.open(id: "c1", environment: environment)
        }
    }
}
