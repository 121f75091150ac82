import FedgateCore
import Foundation
import Logging

// Connector capability protocols, after Dex's `connector/connector.go`. A connector declares
// the capabilities it has; the gateway asks with `as? PasswordConnector` etc.
// Connectors never touch storage or tokens: they turn upstream credentials into an
// `UpstreamIdentity` and nothing else.

/// The marker every connector conforms to.
public protocol Connector: Sendable {
    var id: String { get }
}

/// Username + password against the upstream (LDAP, local DB, Keystone...).
public protocol PasswordConnector: Connector {
    /// The label of the username field ("Email Address", "Username").
    var prompt: String { get }
    /// Returns nil for bad credentials. Throws `ConnectorError` only for upstream faults.
    func login(username: String, password: String, scopes: ConnectorScopes) async throws -> UpstreamIdentity?
}

/// Where a redirect connector sends the browser.
public struct LoginRedirect: Sendable, Equatable {
    public var url: String
    /// Opaque state the connector wants back in `handleCallback` (e.g. a PKCE verifier).
    public var connectorData: Data?
    public init(url: String, connectorData: Data? = nil) { self.url = url; self.connectorData = connectorData }
}

/// Browser redirect to an upstream and back to `/callback` (OIDC, GitHub, GitLab, OAuth2).
public protocol CallbackConnector: Connector {
    func loginURL(scopes: ConnectorScopes, callbackURL: String, state: String) async throws -> LoginRedirect
    /// `query` holds the callback's query (and form) parameters.
    func handleCallback(scopes: ConnectorScopes, connectorData: Data?, query: [String: String]) async throws -> UpstreamIdentity
}

/// What the gateway needs to render a SAML HTTP-POST binding form.
public struct SAMLPostData: Sendable, Equatable {
    public var ssoURL: String
    public var samlRequest: String
    public init(ssoURL: String, samlRequest: String) { self.ssoURL = ssoURL; self.samlRequest = samlRequest }
}

/// SAML 2.0 Web Browser SSO with the HTTP-POST binding.
public protocol SAMLConnector: Connector {
    func postData(scopes: ConnectorScopes, requestID: String) throws -> SAMLPostData
    func handlePOST(scopes: ConnectorScopes, samlResponse: String, inResponseTo: String) async throws -> UpstreamIdentity
}

/// Re-checks the upstream on a refresh so removed users and groups take effect.
public protocol RefreshConnector: Connector {
    /// Throws `ConnectorError.userNotFound` / `.refused` when the upstream says no (the gateway
    /// answers `invalid_grant`) and `.unreachable` when it cannot be asked (503).
    func refresh(scopes: ConnectorScopes, identity: UpstreamIdentity) async throws -> UpstreamIdentity
}

/// Verifies an upstream token for RFC 8693 token exchange.
public protocol TokenIdentityConnector: Connector {
    func tokenIdentity(subjectTokenType: String, subjectToken: String) async throws -> UpstreamIdentity
}

/// What the gateway lends a connector when it opens it.
public struct ConnectorEnvironment: Sendable {
    public var logger: Logger
    /// Local users (the password DB) for the `local` connector; the gateway backs it with storage.
    public var passwordDirectory: (any PasswordDirectory)?
    /// Where the config file lives, for resolving relative paths (CA files, ...).
    public var configDirectory: String

    public init(logger: Logger, passwordDirectory: (any PasswordDirectory)? = nil, configDirectory: String = ".") {
        self.logger = logger; self.passwordDirectory = passwordDirectory; self.configDirectory = configDirectory
    }
}

/// A local user as the `local` connector sees it.
public struct LocalUser: Sendable, Equatable {
    public var email: String
    public var hash: String
    public var username: String
    public var name: String
    public var preferredUsername: String
    public var emailVerified: Bool
    public var userID: String
    public var groups: [String]
    public init(email: String, hash: String, username: String, name: String = "", preferredUsername: String = "",
                emailVerified: Bool = true, userID: String, groups: [String] = []) {
        self.email = email; self.hash = hash; self.username = username; self.name = name
        self.preferredUsername = preferredUsername; self.emailVerified = emailVerified; self.userID = userID; self.groups = groups
    }
}

/// Read access to local users, injected by the gateway so connectors stay free of storage.
public protocol PasswordDirectory: Sendable {
    /// The user with this (case-insensitive) email, or nil.
    func user(email: String) async throws -> LocalUser?
}
