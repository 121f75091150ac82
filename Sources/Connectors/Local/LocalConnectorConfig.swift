import FedgateCore
import Foundation

/// Config of the `local` connector. It has no keys: Dex adds it when `enablePasswordDB: true`
/// and its users come from `staticPasswords` and storage, reached through the environment's
/// ``PasswordDirectory``.
public struct LocalConnectorConfig: ConnectorConfiguration, Equatable {
    public static var connectorType: String { "local" }

    public init() {}

    /// Accepts any block (`{}`, null or keys Dex would ignore).
    public init(from decoder: any Decoder) throws {}

    public func open(id: String, environment: ConnectorEnvironment) async throws -> any Connector {
        guard let directory = environment.passwordDirectory else {
            throw ConnectorError.invalidConfig("the local connector needs the password database (enablePasswordDB)")
        }
        var logger = environment.logger
        logger[metadataKey: "connector"] = "\(id)"
        return LocalConnector(id: id, directory: directory, logger: logger)
    }
}
