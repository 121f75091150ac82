import FedgateCore
import Foundation
import Hummingbird
import Storage

/// `/approval` and the authorization response (RFC 6749 §4.1.2).
extension Gateway {
    func loadApproval(_ params: FormParameters) async throws -> AuthRequest {
        let authRequest = try await loadAuthRequest(params["req"])
        guard let hmac = params["hmac"], ConstantTime.equals(hmac, Self.approvalHMAC(authRequest)) else {
            throw PageError(status: .unauthorized, title: "Unauthorized", message: "This approval link is not valid for your login.")
        }
        guard authRequest.loggedIn else { throw PageError.badRequest("Login process not yet finalized.") }
        return authRequest
    }

    func handleApprovalPage(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let params = query(request)
        let authRequest = try await loadApproval(params)
        let client = try await storage.getClient(id: authRequest.clientID)
        let page = pages.approval(
            clientName: client.name.isEmpty ? client.id : client.name,
            scopes: authRequest.scopes, authReqID: authRequest.id,
            hmac: Self.approvalHMAC(authRequest), postURL: settings.path("/approval")
        )
        return Responses.html(page)
    }

    func handleApproval(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let params = try await pageParameters(request, context)
        let authRequest = try await loadApproval(params)
        guard params["approval"] == "approve" else {
            try? await storage.deleteAuthRequest(id: authRequest.id)
            return errorRedirect(authRequest.redirectURI, state: authRequest.state,
                                 RedirectError(code: "access_denied", description: "The user denied the request."),
                                 fragment: Self.usesFragment(authRequest.responseTypes))
        }
        let client = try await storage.getClient(id: authRequest.clientID)
        return try await sendCodeResponse(authRequest, client: client, context: context)
    }

    /// Issues the authorization code (and, for hybrid flows, tokens) and redirects to the client.
    /// The auth request is deleted first, so a replayed approval cannot mint a second code.
    func sendCodeResponse(_ authRequest: AuthRequest, client: Client, context: GatewayRequestContext) async throws -> Response {
        do { try await storage.deleteAuthRequest(id: authRequest.id) } catch let e as StorageError where e.isNotFound {
            throw PageError.badRequest("This login has already been completed.")
        }
        guard let claims = authRequest.claims else { throw PageError.badRequest("Login process not yet finalized.") }
        var params: [(String, String)] = []
        var code: AuthCode?
        if authRequest.responseTypes.contains("code") {
            let c = AuthCode(
                id: IDs.newID(), clientID: authRequest.clientID, redirectURI: authRequest.redirectURI,
                nonce: authRequest.nonce, scopes: authRequest.scopes, connectorID: authRequest.connectorID,
                connectorData: authRequest.connectorData, claims: claims,
                expiry: now().addingTimeInterval(settings.authCodeLifetime), pkce: authRequest.pkce, authTime: authRequest.authTime
            )
            try await storage.createAuthCode(c)
            code = c
            params.append(("code", c.id))
        }
        // Implicit and hybrid flows (OIDC Core §3.2, §3.3): tokens in the fragment.
        let hybrid = authRequest.responseTypes.contains { $0 != "code" }
        if hybrid {
            let issued = try issueTokens(
                TokenRequestContext(clientID: client.id, claims: claims, scopes: authRequest.scopes,
                                    nonce: authRequest.nonce, connectorID: authRequest.connectorID, authTime: authRequest.authTime,
                                    grantID: code?.id ?? ""),
                code: code?.id
            )
            if authRequest.responseTypes.contains("token") {
                params.append(("access_token", issued.accessToken))
                params.append(("token_type", "bearer"))
                params.append(("expires_in", String(Int(settings.idTokenLifetime))))
            }
            if authRequest.responseTypes.contains("id_token") { params.append(("id_token", issued.idToken)) }
        }
        if !authRequest.state.isEmpty { params.append(("state", authRequest.state)) }
        if authRequest.redirectURI == Self.oobRedirectURI, let code {
            return Responses.html(pages.oob(code: code.id))
        }
        return Responses.redirect(FormParameters.append(params, to: authRequest.redirectURI, fragment: hybrid))
    }
}
