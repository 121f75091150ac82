import ClaimMapping
import Connectors
import Foundation
import Yams

/// An upstream identity provider declared in the config (`connectors[]`).
///
/// Decoded in Dex's two phases (`cmd/dex/config.go` `Connector.UnmarshalJSON`): the envelope
/// `{type, id, name, config, grantTypes}` first, then `config` as the registered type's
/// `ConnectorConfiguration`, after `$VAR` expansion.
public struct ConnectorSettings: Sendable {
    /// Dex's type name ("ldap", "oidc", "mockCallback", ...).
    public var type: String
    /// Stable id, part of every `sub` claim this connector issues; never rename it in production.
    public var id: String
    /// Shown on the login page.
    public var name: String
    /// The decoded, validated `config` block.
    public var config: any ConnectorConfiguration
    /// Grant types this connector may be used with; empty = every enabled grant (Dex `grantTypes`).
    public var grantTypes: [String]
    /// How upstream attributes become token claims (Fedgate's `claimMapping:`); nil = unchanged.
    public var claimMapping: ClaimMappingConfig?

    public init(type: String, id: String, name: String, config: any ConnectorConfiguration, grantTypes: [String] = [],
                claimMapping: ClaimMappingConfig? = nil) {
        self.type = type; self.id = id; self.name = name; self.config = config; self.grantTypes = grantTypes
        self.claimMapping = claimMapping
    }
}

extension ConnectorSettings: CustomStringConvertible {
    /// The config block is left out: it may hold secrets (client secrets, bind passwords).
    public var description: String { "ConnectorSettings(type: \(type), id: \(id), name: \(name))" }
}

extension ConnectorSettings {
    private struct Envelope: Decodable {
        var type: String?
        var id: String?
        var name: String?
        var grantTypes: [String]?
    }

    /// Resolves one connector; problems in its config come out as `connectors[N].config.<path>`.
    static func resolve(_ node: Node, at path: String, parser: inout ConfigParser) -> ConnectorSettings? {
        guard let envelope = parser.decode(Envelope.self, from: node, at: path) else { return nil }
        let before = parser.problems.count
        let id = nonEmpty(envelope.id)
        if id == nil { parser.report("\(path).id", "required") }
        let name = nonEmpty(envelope.name)
        if name == nil { parser.report("\(path).name", "required") }
        let grantTypes = envelope.grantTypes ?? []
        parser.requireMembers(grantTypes, of: OAuth2Settings.knownGrantTypes, at: "\(path).grantTypes", what: "grant type")

        guard let type = nonEmpty(envelope.type) else {
            parser.report("\(path).type", "required")
            return nil
        }
        guard parser.registry.configurationType(for: type) != nil else {
            parser.report("\(path).type", "unknown connector type \"\(type)\"")
            return nil
        }

        let configPath = "\(path).config"
        // Keys match case-insensitively, as Go's encoding/json matches them for Dex.
        var renaming: [ConfigProblem] = []
        let block = KeySchema(parser.registry.configurationType(for: type)?.configKeys ?? .any)
            .canonicalize(parser.configBlock(node.mapping?["config"]), at: configPath, strict: false, problems: &renaming)
        guard let decoded = parser.decode(ConfigBox.self, from: block, at: configPath,
                                          userInfo: [ConfigBox.registryKey: parser.registry, ConfigBox.typeKey: type]),
              let config = decoded.config
        else { return nil }
        parser.report(config.validate().map { ConfigProblem(ConfigPath.join(configPath, $0.path), $0.message) })

        let claimMapping = resolveClaimMapping(node.mapping?["claimMapping"], at: "\(path).claimMapping", parser: &parser)

        guard parser.problems.count == before, let id, let name else { return nil }
        return ConnectorSettings(type: type, id: id, name: name, config: config, grantTypes: grantTypes,
                                 claimMapping: claimMapping)
    }

    /// `claimMapping` is not env-expanded (Dex expands only `config`); its own `validate()` gives
    /// `"<field>: <message>"` lines, re-rooted here under the connector's path.
    private static func resolveClaimMapping(_ node: Node?, at path: String, parser: inout ConfigParser) -> ClaimMappingConfig? {
        guard let node, !ConfigParser.isNull(node) else { return nil }
        guard let mapping = parser.decode(ClaimMappingConfig.self, from: node, at: path) else { return nil }
        for line in mapping.validate() {
            if let separator = line.range(of: ": ") {
                parser.report(ConfigPath.join(path, String(line[..<separator.lowerBound])), String(line[separator.upperBound...]))
            } else {
                parser.report(path, line)
            }
        }
        return mapping
    }
}

/// Carries the registry and type name into decoding so the registered type's own `init(from:)`
/// runs on the `config` node and its errors keep their coding paths.
private struct ConfigBox: Decodable {
    static let registryKey = CodingUserInfoKey(rawValue: "fedgate.connectorRegistry")!
    static let typeKey = CodingUserInfoKey(rawValue: "fedgate.connectorType")!

    var config: (any ConnectorConfiguration)?

    init(from decoder: any Decoder) throws {
        guard let registry = decoder.userInfo[Self.registryKey] as? ConnectorRegistry,
              let type = decoder.userInfo[Self.typeKey] as? String
        else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "internal: connector registry missing"))
        }
        config = try registry.decode(type: type, from: decoder)
    }
}
