import FedgateCore
import Foundation

/// Config of the `mockPassword` connector (Dex's `PasswordConfig`): the one accepted
/// `username` and `password`, both required.
public struct MockPasswordConfig: ConnectorConfiguration, Equatable {
    public static var connectorType: String { "mockPassword" }

    public var username: String
    public var password: String

    private enum CodingKeys: String, CodingKey { case username, password }

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// Missing keys decode as empty strings (as Go's zero values) and are reported by `validate()`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        username = try container.decodeIfPresent(String.self, forKey: .username) ?? ""
        password = try container.decodeIfPresent(String.self, forKey: .password) ?? ""
    }

    public func validate() -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        if username.isEmpty { problems.append(ConfigProblem("username", "is required")) }
        if password.isEmpty { problems.append(ConfigProblem("password", "is required")) }
        return problems
    }

    /// Dex's `Open` fails with "no username supplied" / "no password supplied"; so does this.
    public func open(id: String, environment: ConnectorEnvironment) async throws -> any Connector {
        if let problem = validate().first {
            throw ConnectorError.invalidConfig("mockPassword \(problem)")
        }
        return MockPasswordConnector(id: id, username: username, password: password)
    }
}

extension MockPasswordConfig: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Keeps the password out of logs and debugger output.
    public var description: String { "MockPasswordConfig(username: \(username), password: <redacted>)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["username": username, "password": "<redacted>"]) }
}
