import Foundation

/// The `federated_claims` object Dex adds to tokens when the `federated:id` scope is requested:
/// which connector authenticated the user, and the user's ID at that upstream.
public struct FederatedClaims: Codable, Sendable, Equatable {
    public var connectorID: String
    public var userID: String

    public init(connectorID: String, userID: String) { self.connectorID = connectorID; self.userID = userID }

    enum CodingKeys: String, CodingKey { case connectorID = "connector_id", userID = "user_id" }
}
