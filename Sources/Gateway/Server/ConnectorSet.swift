import ClaimMapping
import Connectors
import FedgateCore
import Foundation

/// One opened connector with what the gateway needs around it.
public struct ConnectorEntry: Sendable {
    public let id: String
    public let type: String
    public let name: String
    public let connector: any Connector
    public let mapper: ClaimMapper
    /// Grant types this connector may be used with (empty = all), Dex's per-connector `grantTypes`.
    public let grantTypes: [String]

    public func allows(grantType: String) -> Bool { grantTypes.isEmpty || grantTypes.contains(grantType) }
}

/// The connectors of this gateway, in config order, looked up by id.
public struct ConnectorSet: Sendable {
    public let entries: [ConnectorEntry]
    private let byID: [String: ConnectorEntry]
    /// The password DB connector (`local`), whose refresh re-reads a user from storage; nil without one.
    public let passwordDBID: String?

    public init(_ entries: [ConnectorEntry]) {
        self.entries = entries
        self.byID = Dictionary(entries.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.passwordDBID = entries.first { $0.connector is LocalConnector }?.id
    }

    public subscript(id: String) -> ConnectorEntry? { byID[id] }
}
