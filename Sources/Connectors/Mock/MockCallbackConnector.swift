import FedgateCore
import Foundation

/// Dex's `mockCallback` connector (`connector/mock/connectortest.go` `Callback`): a redirect
/// connector that needs no user interaction and always answers with the same fake user. Used
/// for demos, development configs and end-to-end tests of the redirect flow.
public struct MockCallbackConnector: CallbackConnector, RefreshConnector, TokenIdentityConnector {
    public let id: String

    /// Dex's fixed identity, byte for byte, so `sub` values match a Dex instance.
    public static let identity = UpstreamIdentity(
        userID: "0-385-28089-0", username: "Kilgore Trout", email: "kilgore@kilgore.trout",
        emailVerified: true, groups: ["authors"], connectorData: Data("foobar".utf8)
    )

    public init(id: String) { self.id = id }

    /// Sends the browser straight back to `callbackURL` with `state` added to its query (an
    /// existing `state` parameter is replaced, as Go's `url.Values.Set` does in Dex).
    public func loginURL(scopes: ConnectorScopes, callbackURL: String, state: String) async throws -> LoginRedirect {
        guard var components = URLComponents(string: callbackURL), components.scheme != nil else {
            throw ConnectorError.invalidConfig("callback URL is not a valid absolute URL")
        }
        var items = (components.percentEncodedQueryItems ?? []).filter { $0.name != "state" }
        items.append(URLQueryItem(name: "state", value: Self.formEncode(state)))
        components.percentEncodedQueryItems = items
        guard let url = components.string else {
            throw ConnectorError.invalidConfig("callback URL cannot carry a state parameter")
        }
        return LoginRedirect(url: url)
    }

    /// Ignores the query: there is no upstream to ask.
    public func handleCallback(scopes: ConnectorScopes, connectorData: Data?, query: [String: String]) async throws -> UpstreamIdentity {
        Self.identity
    }

    /// Dex returns the fixed identity again, whatever was stored.
    public func refresh(scopes: ConnectorScopes, identity: UpstreamIdentity) async throws -> UpstreamIdentity {
        Self.identity
    }

    /// Accepts any non-empty subject token (Dex accepts even an empty one; an empty token is
    /// never a real credential, so Fedgate refuses it).
    public func tokenIdentity(subjectTokenType: String, subjectToken: String) async throws -> UpstreamIdentity {
        guard !subjectToken.isEmpty else { throw ConnectorError.refused("the subject token is empty") }
        return Self.identity
    }

    /// `application/x-www-form-urlencoded` value encoding: everything but RFC 3986 unreserved
    /// characters is percent-encoded, so the state survives any URL parser.
    static func formEncode(_ value: String) -> String {
        var allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}
