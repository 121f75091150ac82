import FedgateCore
import Foundation

/// One problem found while validating a config block. `path` is relative to the block
/// (e.g. `host`, `userSearch.baseDN`); the config loader prefixes `connectors[N].config.`.
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String
    public init(_ path: String, _ message: String) { self.path = path; self.message = message }
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// The keys of a connector's config block, so the loader can match them case-insensitively
/// before decoding, as Go's `encoding/json` does for Dex (`baseDn` finds `baseDN`).
public indirect enum ConfigKeys: Sendable {
    /// A mapping with these keys (values described by their own `ConfigKeys`).
    case fields([String: ConfigKeys])
    /// A list whose every element is described by the inner `ConfigKeys`.
    case list(ConfigKeys)
    /// A plain value, or a block matched as written.
    case any

    /// A mapping of plain values.
    public static func names(_ names: [String]) -> ConfigKeys {
        .fields(Dictionary(uniqueKeysWithValues: names.map { ($0, ConfigKeys.any) }))
    }
}

/// A connector type's config block (`connectors[].config`), decoded from YAML/JSON with Dex's keys.
public protocol ConnectorConfiguration: Decodable, Sendable {
    /// Dex's type name: "ldap", "oidc", "saml", "github", "mockCallback", ...
    static var connectorType: String { get }
    /// The block's keys for case-insensitive matching; `.any` (the default) matches keys as written.
    static var configKeys: ConfigKeys { get }
    /// Semantic checks beyond decoding (required fields, value ranges). Empty when valid.
    func validate() -> [ConfigProblem]
    /// Builds the live connector. Throws `ConnectorError.invalidConfig` if it cannot be opened.
    func open(id: String, environment: ConnectorEnvironment) async throws -> any Connector
}

extension ConnectorConfiguration {
    public func validate() -> [ConfigProblem] { [] }
    public static var configKeys: ConfigKeys { .any }
}

/// Maps Dex's connector type names to their config types. Injected into config decoding so
/// tests and embedders can register their own types.
public struct ConnectorRegistry: Sendable {
    private var types: [String: any ConnectorConfiguration.Type] = [:]

    public init() {}

    public mutating func register<C: ConnectorConfiguration>(_ type: C.Type) {
        types[C.connectorType] = type
    }

    public func configurationType(for name: String) -> (any ConnectorConfiguration.Type)? { types[name] }

    public var typeNames: [String] { types.keys.sorted() }

    /// Decodes a `config` block for the connector type `name`.
    public func decode(type name: String, from decoder: any Decoder) throws -> (any ConnectorConfiguration)? {
        guard let t = types[name] else { return nil }
        return try t.init(from: decoder)
    }
}
