import Connectors
import Crypto
import FedgateCore
import Foundation
import Hummingbird
import Storage

/// `/auth`: validates an authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1), stores it,
/// and sends the browser to a connector.
///
/// Until the client and its redirect URI are verified, every failure is an error page and never
/// a redirect (RFC 6749 §4.1.2.1: an invalid redirect URI must not be redirected to). After that,
/// failures go back to the client as `error=` on its redirect URI.
extension Gateway {
    /// An error to send back to a verified redirect URI.
    struct RedirectError: Error {
        var code: String
        var description: String
    }

    func handleAuthorize(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let params = try await pageParameters(request, context)
        if let longest = params.longestValue, longest.length > Settings.maxParameterLength {
            throw PageError.badRequest("Parameter \(longest.key) is too long.")
        }
        guard let clientID = params["client_id"] else { throw PageError.badRequest("Missing client_id parameter.") }
        let client: Client
        do { client = try await storage.getClient(id: clientID) } catch let e as StorageError where e.isNotFound {
            throw PageError.badRequest("Invalid client_id (\"\(clientID)\").")
        }
        guard let redirectURI = params["redirect_uri"] else { throw PageError.badRequest("Missing redirect_uri parameter.") }
        guard Self.validRedirectURI(redirectURI, client: client) else {
            throw PageError.badRequest("Unregistered redirect_uri (\"\(redirectURI)\").")
        }
        let state = params["state"] ?? ""
        if !params.duplicates.isEmpty {
            return errorRedirect(redirectURI, state: state, RedirectError(code: "invalid_request", description: "Parameter \(params.duplicates[0]) was given more than once."))
        }
        do {
            let authRequest = try await parseAuthRequest(params, client: client, redirectURI: redirectURI, state: state)
            return try await startLogin(authRequest, connectorID: params["connector_id"])
        } catch let e as RedirectError {
            // An unusable response_type is answered in the query: which mode it wanted is unknown.
            let words = (params["response_type"] ?? "").split(separator: " ").map(String.init)
            return errorRedirect(redirectURI, state: state, e,
                                 fragment: e.code != "unsupported_response_type" && Self.usesFragment(words))
        }
    }

    /// Dex's `validateRedirectURI`: registered URIs match exactly; a public client with none
    /// registered may use the out-of-band URI or an http loopback address on any port (RFC 8252 §7.3).
    static func validRedirectURI(_ uri: String, client: Client) -> Bool {
        // Dex's device-flow callback may be registered (configs load unchanged), but with no
        // device flow it is never a place to send a browser.
        if uri == StaticClient.deviceCallbackURI { return false }
        if client.redirectURIs.contains(uri) { return true }
        guard client.isPublic, client.redirectURIs.isEmpty else { return false }
        if uri == oobRedirectURI { return true }
        guard let components = URLComponents(string: uri), components.scheme == "http", let host = components.host else { return false }
        let bare = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        return bare == "localhost" || isLoopbackLiteral(bare)
    }

    /// Whether `host` is an IP address literal on the loopback interface: IPv4 in 127.0.0.0/8
    /// in dotted-decimal form, or IPv6 `::1` in any spelling. A name such as `127.a.example`
    /// is not one, whatever its labels look like (RFC 8252 §7.3: loopback IP literals).
    static func isLoopbackLiteral(_ host: String) -> Bool {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, host, &v6) == 1 else { return false }
        return withUnsafeBytes(of: &v6) { bytes in bytes.dropLast().allSatisfy { $0 == 0 } && bytes.last == 1 }
    }

    static let oobRedirectURI = "urn:ietf:wg:oauth:2.0:oob"

    /// Why `scopes` cannot be granted to `client`, or nil: `openid` is required, every scope must
    /// be known, and a cross-client peer must list this client in its `trustedPeers` (Dex's rules,
    /// shared by `/auth` and the password grant).
    func scopeProblem(_ scopes: [String], client: Client) async -> String? {
        guard scopes.contains(Scope.openID) else { return "Missing required scope(s) [\"openid\"]." }
        var unknown: [String] = []
        for scope in scopes where !Scope.known.contains(scope) {
            guard scope.hasPrefix(Scope.crossClientPrefix) else {
                unknown.append(scope)
                continue
            }
            let peerID = String(scope.dropFirst(Scope.crossClientPrefix.count))
            if peerID == client.id { continue }
            guard let peer = try? await storage.getClient(id: peerID) else { return "Unknown peer client \"\(peerID)\"." }
            guard peer.trustedPeers.contains(client.id) else { return "Client \"\(peerID)\" does not trust this client." }
        }
        return unknown.isEmpty ? nil : "Unrecognized scope(s) \(unknown)."
    }

    /// Sends the browser back to the client with an error (RFC 6749 §4.1.2.1). `fragment`: the
    /// request asked for tokens in the fragment (`token` or `id_token` in its response type), so
    /// the error goes there too (RFC 6749 §4.2.2.1, OAuth 2.0 Multiple Response Types §5).
    func errorRedirect(_ redirectURI: String, state: String, _ error: RedirectError, fragment: Bool = false) -> Response {
        if redirectURI == Self.oobRedirectURI {
            return Responses.html(pages.error(title: "Authorization failed", message: "\(error.code): \(error.description)"), status: .badRequest)
        }
        var params = [("error", error.code), ("error_description", error.description)]
        if !state.isEmpty { params.append(("state", state)) }
        return Responses.redirect(FormParameters.append(params, to: redirectURI, fragment: fragment), status: .found)
    }

    /// Whether a response type sends its answer in the fragment (any `token` or `id_token`).
    static func usesFragment(_ responseTypes: some Sequence<String>) -> Bool {
        responseTypes.contains { $0 == "token" || $0 == "id_token" }
    }

    func parseAuthRequest(_ params: FormParameters, client: Client, redirectURI: String, state: String) async throws -> AuthRequest {
        if params["request"] != nil { throw RedirectError(code: "request_not_supported", description: "The request parameter is not supported.") }
        if params["request_uri"] != nil { throw RedirectError(code: "request_uri_not_supported", description: "The request_uri parameter is not supported.") }

        // response_type (RFC 6749 §3.1.1; OIDC Core §3)
        guard let responseTypeParam = params["response_type"] else {
            throw RedirectError(code: "unsupported_response_type", description: "Missing response_type parameter.")
        }
        // The order of words does not matter (OIDC Core §3); compare the canonical form against
        // the configured combinations.
        let words = responseTypeParam.split(separator: " ").map(String.init)
        let responseTypes = ["code", "id_token", "token"].filter(words.contains)
        guard Set(words).count == words.count, responseTypes.count == words.count,
              settings.responseTypes.contains(responseTypes.joined(separator: " ")) else {
            throw RedirectError(code: "unsupported_response_type", description: "Unsupported response type \"\(responseTypeParam)\".")
        }
        if responseTypes == ["token"] {
            throw RedirectError(code: "unsupported_response_type", description: "The response type \"token\" alone is not an OpenID Connect flow.")
        }

        let scopes = (params["scope"] ?? "").split(separator: " ").map(String.init)
        if let problem = await scopeProblem(scopes, client: client) {
            throw RedirectError(code: "invalid_scope", description: problem)
        }

        let nonce = params["nonce"] ?? ""
        if responseTypes.contains(where: { $0 != "code" }), nonce.isEmpty {
            throw RedirectError(code: "invalid_request", description: "Response type \"\(responseTypeParam)\" requires a nonce value.")
        }

        // PKCE (RFC 7636 §4.3): method defaults to plain.
        var pkce = PKCE()
        if let challenge = params["code_challenge"] {
            let method = params["code_challenge_method"] ?? "plain"
            guard settings.pkceMethods.contains(method) else {
                throw RedirectError(code: "invalid_request", description: "Unsupported PKCE challenge method (\"\(method)\").")
            }
            guard (43...128).contains(challenge.utf8.count) else {
                throw RedirectError(code: "invalid_request", description: "code_challenge must be 43 to 128 characters.")
            }
            pkce = PKCE(codeChallenge: challenge, codeChallengeMethod: method)
        } else if params["code_challenge_method"] != nil {
            throw RedirectError(code: "invalid_request", description: "code_challenge_method without code_challenge.")
        } else if settings.pkceEnforced {
            throw RedirectError(code: "invalid_request", description: "PKCE is required: missing code_challenge.")
        }

        // prompt (OIDC Core §3.1.2.1). Fedgate keeps no browser session, so prompt=none can never
        // be satisfied silently.
        let prompts = Set((params["prompt"] ?? "").split(separator: " ").map(String.init))
        for p in prompts where !["none", "login", "consent", "select_account"].contains(p) {
            throw RedirectError(code: "invalid_request", description: "Invalid prompt value \"\(p)\".")
        }
        if prompts.contains("none") {
            if prompts.count > 1 { throw RedirectError(code: "invalid_request", description: "prompt=none cannot be combined with other values.") }
            throw RedirectError(code: "login_required", description: "The user must log in.")
        }
        var maxAge: Int?
        if let raw = params["max_age"] {
            guard let value = Int(raw), value >= 0 else {
                throw RedirectError(code: "invalid_request", description: "max_age must be a non-negative integer.")
            }
            maxAge = value
        }
        let forceApproval = prompts.contains("consent") || params["approval_prompt"] == "force"

        return AuthRequest(
            id: IDs.newID(), clientID: client.id, responseTypes: responseTypes, scopes: scopes,
            redirectURI: redirectURI, nonce: nonce, state: state, forceApprovalPrompt: forceApproval,
            expiry: now().addingTimeInterval(settings.authRequestLifetime), pkce: pkce,
            hmacKey: Data(IDs.randomBytes(32)), prompt: prompts.sorted().joined(separator: " "), maxAge: maxAge
        )
    }

    /// Stores the request and picks the connector: `connector_id` deep-links (Dex), a single
    /// connector is used directly unless `alwaysShowLoginScreen`, otherwise the chooser page.
    func startLogin(_ authRequest: AuthRequest, connectorID: String?) async throws -> Response {
        if let connectorID {
            guard let entry = connectors[connectorID] else { throw PageError.notFound("Connector ID does not match a valid connector.") }
            try requireBrowserLogin(entry, authRequest)
        }
        guard !connectors.entries.isEmpty else { throw PageError.server("No connectors are configured.") }
        // Only connectors this client may log in through (connector `grantTypes`, client `allowedConnectors`).
        let usable = connectors.entries.filter { mayUse($0, client: authRequest.clientID, grantType: OAuth2Settings.authorizationCode) }
        guard !usable.isEmpty else { throw PageError.badRequest("No connector can be used to log in to this application.") }
        try await storage.createAuthRequest(authRequest)
        let state = FormParameters.encode(authRequest.id)
        if let connectorID {
            return Responses.redirect(settings.path("/auth/\(FormParameters.encode(connectorID))?state=\(state)"), status: .found)
        }
        if usable.count == 1, !settings.alwaysShowLoginScreen {
            return Responses.redirect(settings.path("/auth/\(FormParameters.encode(usable[0].id))?state=\(state)"), status: .found)
        }
        let links = usable.map {
            ConnectorLink(id: $0.id, name: $0.name, type: $0.type,
                          url: settings.path("/auth/\(FormParameters.encode($0.id))?state=\(state)"))
        }
        return Responses.html(pages.login(connectors: links))
    }

    /// HMAC binding the approval step to the browser that logged in (Dex's `HMACKey`).
    static func approvalHMAC(_ authRequest: AuthRequest) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(authRequest.id.utf8), using: SymmetricKey(data: authRequest.hmacKey))
        return Base64URL.encode(Array(mac))
    }
}
