import ClaimMapping
import Connectors
import FedgateCore
import Foundation
import Hummingbird
import Storage

/// Connector login: `/auth/{connector}`, the password form, `/callback`, and the step every
/// connector ends with (claim mapping, then approval or the code).
extension Gateway {
    /// Loads a live auth request by the `state` parameter our own pages carry.
    func loadAuthRequest(_ id: String?) async throws -> AuthRequest {
        guard let id, !id.isEmpty, id.utf8.count <= 64 else { throw PageError.badRequest("Missing or invalid login session (state).") }
        let authRequest: AuthRequest
        do { authRequest = try await storage.getAuthRequest(id: id) } catch let e as StorageError where e.isNotFound {
            throw PageError.badRequest("Your login session was not found or has expired. Please start again from the application.")
        }
        guard authRequest.expiry > now() else {
            try? await storage.deleteAuthRequest(id: id)
            throw PageError.badRequest("Your login session has expired. Please start again from the application.")
        }
        return authRequest
    }

    func connectorEntry(_ context: GatewayRequestContext) throws -> ConnectorEntry {
        guard let id = context.parameters.get("connector"), let entry = connectors[id] else {
            throw PageError.notFound("Connector ID does not match a valid connector.")
        }
        return entry
    }

    /// Whether `clientID` may log in through `entry` for `grantType`: the connector's own
    /// `grantTypes` and the client's `allowedConnectors` (Dex's `server/connectors/policy.go`).
    func mayUse(_ entry: ConnectorEntry, client clientID: String, grantType: String) -> Bool {
        guard entry.allows(grantType: grantType) else { return false }
        guard let allowed = settings.allowedConnectors[clientID] else { return true }
        return allowed.contains(entry.id)
    }

    /// The browser flows' check of `mayUse`, as an error page.
    func requireBrowserLogin(_ entry: ConnectorEntry, _ authRequest: AuthRequest) throws {
        guard mayUse(entry, client: authRequest.clientID, grantType: OAuth2Settings.authorizationCode) else {
            throw PageError.badRequest("Connector \"\(entry.name)\" cannot be used to log in to this application.")
        }
    }

    /// `/auth/{connector}?state=ID`: binds the request to the connector and starts its login.
    func handleConnectorLogin(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let entry = try connectorEntry(context)
        let authRequest = try await loadAuthRequest(query(request)["state"])
        guard !authRequest.loggedIn else { throw PageError.badRequest("This login has already been completed.") }
        try requireBrowserLogin(entry, authRequest)
        let scopes = Scope.connectorScopes(authRequest.scopes)
        let state = authRequest.id

        if entry.connector is any PasswordConnector {
            try await storage.updateAuthRequest(id: authRequest.id) { $0.connectorID = entry.id }
            return Responses.redirect(settings.path("/auth/\(FormParameters.encode(entry.id))/login?state=\(FormParameters.encode(state))"), status: .found)
        }
        if let callback = entry.connector as? any CallbackConnector {
            let redirect: LoginRedirect
            do {
                redirect = try await callback.loginURL(scopes: scopes, callbackURL: settings.url("/callback"), state: state)
            } catch let e as ConnectorError {
                context.logger.warning("login could not start", metadata: ["connector": .string(entry.id), "error": .string(e.reason)])
                throw Self.loginPageError(e)
            }
            try await storage.updateAuthRequest(id: authRequest.id) {
                $0.connectorID = entry.id
                $0.connectorData = redirect.connectorData
            }
            return Responses.redirect(redirect.url, status: .found)
        }
        if let saml = entry.connector as? any SAMLConnector {
            let post: SAMLPostData
            do {
                post = try saml.postData(scopes: scopes, requestID: authRequest.id)
            } catch let e as ConnectorError {
                context.logger.warning("login could not start", metadata: ["connector": .string(entry.id), "error": .string(e.reason)])
                throw Self.loginPageError(e)
            }
            try await storage.updateAuthRequest(id: authRequest.id) { $0.connectorID = entry.id }
            return Responses.html(pages.samlPost(actionURL: post.ssoURL, samlRequest: post.samlRequest, relayState: state))
        }
        throw PageError.server("Connector \"\(entry.id)\" cannot be used to log in.")
    }

    func passwordConnector(_ entry: ConnectorEntry) throws -> any PasswordConnector {
        guard let connector = entry.connector as? any PasswordConnector else {
            throw PageError.notFound("Connector \"\(entry.id)\" does not take a password.")
        }
        return connector
    }

    func passwordPage(_ entry: ConnectorEntry, _ authRequest: AuthRequest, username: String, invalid: Bool, message: String? = nil) throws -> String {
        let connector = try passwordConnector(entry)
        let state = FormParameters.encode(authRequest.id)
        let back = connectors.entries.count > 1 ? settings.path("/auth?") + backQuery(authRequest) : nil
        return pages.password(
            postURL: settings.path("/auth/\(FormParameters.encode(entry.id))/login?state=\(state)"),
            username: username, prompt: connector.prompt, invalid: invalid, message: message, backURL: back
        )
    }

    /// The original `/auth` query, for the "Select another login method" link.
    func backQuery(_ a: AuthRequest) -> String {
        var items = [("client_id", a.clientID), ("redirect_uri", a.redirectURI), ("response_type", a.responseTypes.joined(separator: " ")),
                     ("scope", a.scopes.joined(separator: " "))]
        if !a.state.isEmpty { items.append(("state", a.state)) }
        if !a.nonce.isEmpty { items.append(("nonce", a.nonce)) }
        if !a.pkce.codeChallenge.isEmpty {
            items.append(("code_challenge", a.pkce.codeChallenge))
            items.append(("code_challenge_method", a.pkce.codeChallengeMethod))
        }
        // What the client asked of the login itself must survive the detour (OIDC Core §3.1.2.1).
        if !a.prompt.isEmpty { items.append(("prompt", a.prompt)) }
        if let maxAge = a.maxAge { items.append(("max_age", String(maxAge))) }
        if a.forceApprovalPrompt, !a.prompt.split(separator: " ").contains("consent") { items.append(("approval_prompt", "force")) }
        return items.map { "\($0.0)=\(FormParameters.encode($0.1))" }.joined(separator: "&")
    }

    func handlePasswordPage(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let entry = try connectorEntry(context)
        let authRequest = try await loadAuthRequest(query(request)["state"])
        guard authRequest.connectorID == entry.id || authRequest.connectorID.isEmpty else {
            throw PageError.badRequest("This login session belongs to another connector.")
        }
        try requireBrowserLogin(entry, authRequest)
        return Responses.html(try passwordPage(entry, authRequest, username: "", invalid: false))
    }

    func handlePasswordLogin(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let entry = try connectorEntry(context)
        let connector = try passwordConnector(entry)
        let params = try await pageParameters(request, context)
        let authRequest = try await loadAuthRequest(params["state"])
        guard authRequest.connectorID == entry.id || authRequest.connectorID.isEmpty else {
            throw PageError.badRequest("This login session belongs to another connector.")
        }
        guard !authRequest.loggedIn else { throw PageError.badRequest("This login has already been completed.") }
        try requireBrowserLogin(entry, authRequest)
        let username = params["login"] ?? ""
        let password = params["password"] ?? ""
        guard !username.isEmpty, !password.isEmpty, username.utf8.count <= 1024, password.utf8.count <= 1024 else {
            return Responses.html(try passwordPage(entry, authRequest, username: String(username.prefix(256)), invalid: true), status: .unauthorized)
        }
        let outcome: LoginThrottler.Outcome<UpstreamIdentity>
        do {
            outcome = try await throttler.attempt(connectorID: entry.id, username: username, address: context.remoteAddress) {
                try await connector.login(username: username, password: password, scopes: Scope.connectorScopes(authRequest.scopes))
            }
        } catch let e as ConnectorError {
            context.logger.warning("password login failed upstream", metadata: ["connector": .string(entry.id), "error": .string(e.reason)])
            throw Self.loginPageError(e)
        }
        switch outcome {
        case .limited(let retryAfter):
            context.logger.warning("password login throttled", metadata: ["connector": .string(entry.id), "client_remote_addr": .string(context.remoteAddress)])
            var response = Responses.html(try passwordPage(entry, authRequest, username: username, invalid: true,
                                                           message: LoginThrottler.message(retryAfter: retryAfter)), status: .tooManyRequests)
            response.headers[.retryAfter] = String(retryAfter)
            return response
        case .failed:
            context.logger.info("invalid credentials", metadata: ["connector": .string(entry.id)])
            return Responses.html(try passwordPage(entry, authRequest, username: username, invalid: true), status: .unauthorized)
        case .succeeded(let identity):
            return try await finishLogin(authRequest, entry: entry, identity: identity, context: context)
        }
    }

    /// `/callback`: the upstream sends the browser back with our auth request id as `state`
    /// (or SAML's `RelayState`).
    func handleCallback(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let params = try await pageParameters(request, context)
        let authRequest = try await loadAuthRequest(params["state"] ?? params["RelayState"])
        guard !authRequest.loggedIn else { throw PageError.badRequest("This login has already been completed.") }
        guard let entry = connectors[authRequest.connectorID] else {
            throw PageError.badRequest("This login session has no connector.")
        }
        try requireBrowserLogin(entry, authRequest)
        let scopes = Scope.connectorScopes(authRequest.scopes)
        let identity: UpstreamIdentity
        do {
            if let saml = entry.connector as? any SAMLConnector, let response = params["SAMLResponse"] {
                identity = try await saml.handlePOST(scopes: scopes, samlResponse: response, inResponseTo: authRequest.id)
            } else if let callback = entry.connector as? any CallbackConnector {
                var query: [String: String] = [:]
                for key in params.keys { query[key] = params[key] ?? "" }
                if let error = params["error"] {
                    // The text is whatever the link carried: logged, never shown (Dex: "Failed to authenticate").
                    context.logger.warning("callback login failed", metadata: [
                        "connector": .string(entry.id), "error": .string(String(error.prefix(200))),
                        "error_description": .string(String((params["error_description"] ?? "").prefix(200))),
                    ])
                    throw PageError(status: .badRequest, title: "Login failed", message: "The identity provider did not complete the login.")
                }
                identity = try await callback.handleCallback(scopes: scopes, connectorData: authRequest.connectorData, query: query)
            } else {
                throw PageError.badRequest("Connector \"\(entry.id)\" does not accept callbacks.")
            }
        } catch let e as ConnectorError {
            context.logger.warning("callback login failed", metadata: ["connector": .string(entry.id), "error": .string(e.reason)])
            throw Self.loginPageError(e)
        }
        return try await finishLogin(authRequest, entry: entry, identity: identity, context: context)
    }

    /// The page for a connector's failure. A connector's `reason` is written to be shown (no
    /// secrets) and says what went wrong (a dead directory, a refused certificate: issue 4's
    /// "clear message"); a configuration problem's details (file paths) are left to the log,
    /// where every caller writes them.
    static func loginPageError(_ e: ConnectorError) -> PageError {
        switch e.code {
        case .unreachable:
            return PageError.unavailable("The identity provider could not be reached: \(e.reason). Please try again in a moment.")
        case .notInRequiredGroups:
            return PageError(status: .forbidden, title: "Access denied", message: e.reason)
        case .invalidConfig:
            return PageError.server("The login service is misconfigured. The administrator can find the details in the server log.")
        default:
            return PageError(status: .badGateway, title: "Login failed", message: "The identity provider refused the login: \(e.reason)")
        }
    }

    /// Claim mapping, then the approval page or (when skipped) straight to the code.
    func finishLogin(_ authRequest: AuthRequest, entry: ConnectorEntry, identity: UpstreamIdentity, context: GatewayRequestContext) async throws -> Response {
        let claims: Claims
        switch entry.mapper.map(identity) {
        case .allowed(let c): claims = c
        case .rejected(let reason):
            context.logger.info("login rejected by claim mapping", metadata: ["connector": .string(entry.id), "reason": .string(reason)])
            throw PageError(status: .forbidden, title: "Access denied", message: reason)
        }
        let authTime = now()
        var loggedIn = authRequest
        loggedIn.loggedIn = true
        loggedIn.claims = claims
        loggedIn.connectorID = entry.id
        loggedIn.connectorData = identity.connectorData
        loggedIn.authTime = authTime
        let updated = loggedIn
        try await storage.updateAuthRequest(id: authRequest.id) {
            $0.loggedIn = true
            $0.claims = claims
            $0.connectorID = entry.id
            $0.connectorData = identity.connectorData
            $0.authTime = authTime
        }
        context.logger.info("login successful", metadata: [
            "connector": .string(entry.id), "username": .string(claims.username),
            "email": .string(claims.email), "groups": .string(claims.groups.joined(separator: ",")),
        ])
        let client = try await storage.getClient(id: updated.clientID)
        if settings.skipApprovalScreen, !updated.forceApprovalPrompt {
            return try await sendCodeResponse(updated, client: client, context: context)
        }
        let hmac = Self.approvalHMAC(updated)
        return Responses.redirect(settings.path("/approval?req=\(FormParameters.encode(updated.id))&hmac=\(hmac)"))
    }
}
