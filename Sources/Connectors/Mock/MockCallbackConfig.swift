import FedgateCore
import Foundation

/// Config of the `mockCallback` connector. It has no keys (Dex's `CallbackConfig struct{}`).
public struct MockCallbackConfig: ConnectorConfiguration, Equatable {
    public static var connectorType: String { "mockCallback" }

    public init() {}

    /// Accepts any block (`{}`, null or keys Dex would ignore).
    public init(from decoder: any Decoder) throws {}

    public func open(id: String, environment: ConnectorEnvironment) async throws -> any Connector {
        MockCallbackConnector(id: id)
    }
}
