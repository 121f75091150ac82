/// One entry on the connector chooser: a connector's display name and the URL that starts its login.
public struct ConnectorLink: Sendable, Equatable {
    /// The connector's configured `id`.
    public var id: String
    /// The configured display `name` ("Log in with <name>").
    public var name: String
    /// The connector `type` (`ldap`, `oidc`, …); templates use it to style a connector.
    public var type: String
    /// Where the link goes, already including the issuer path and the auth request.
    public var url: String

    public init(id: String, name: String, type: String, url: String) {
        self.id = id
        self.name = name
        self.type = type
        self.url = url
    }
}
