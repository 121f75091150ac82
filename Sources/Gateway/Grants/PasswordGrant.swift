import Connectors
import FedgateCore
import Foundation
import Storage

/// `grant_type=password` (RFC 6749 §4.3), enabled only when `oauth2.passwordConnector` names a
/// password connector, as in Dex.
extension Gateway {
    func passwordGrant(_ params: FormParameters, client: Client, context: GatewayRequestContext) async throws -> TokenResponse {
        guard let connectorID = settings.passwordConnector, let entry = connectors[connectorID],
              let connector = entry.connector as? any PasswordConnector else {
            throw OAuthError.unsupportedGrantType.with(description: "The password grant is not enabled.")
        }
        guard entry.allows(grantType: "password") else {
            throw OAuthError.unauthorizedClient.with(description: "The connector does not allow the password grant.")
        }
        guard mayUse(entry, client: client.id, grantType: OAuth2Settings.password) else {
            throw OAuthError.unauthorizedClient.with(description: "This client may not log in through the password connector.")
        }
        guard let username = params["username"], let password = params["password"] else {
            throw OAuthError.invalidRequest.with(description: "Missing username or password parameter.")
        }
        let scopes = (params["scope"] ?? "openid").split(separator: " ").map(String.init)
        if let problem = await scopeProblem(scopes, client: client) {
            throw OAuthError.invalidScope.with(description: problem)
        }
        let outcome: LoginThrottler.Outcome<UpstreamIdentity>
        do {
            outcome = try await throttler.attempt(connectorID: entry.id, username: username, address: context.remoteAddress) {
                try await connector.login(username: username, password: password, scopes: Scope.connectorScopes(scopes))
            }
        } catch let e as ConnectorError {
            if e.code == .unreachable {
                throw OAuthError.temporarilyUnavailable.with(description: "The identity provider is unreachable; retry later.")
            }
            throw OAuthError.invalidGrant.with(description: "The identity provider refused the login.")
        }
        let identity: UpstreamIdentity
        switch outcome {
        case .limited(let retryAfter):
            throw OAuthError(code: "invalid_request", description: LoginThrottler.message(retryAfter: retryAfter),
                             status: .tooManyRequests, retryAfter: retryAfter)
        case .failed:
            throw OAuthError.invalidGrant.with(description: "Invalid username or password.")
        case .succeeded(let value):
            identity = value
        }
        let claims: Claims
        switch entry.mapper.map(identity) {
        case .allowed(let c): claims = c
        case .rejected(let reason): throw OAuthError.invalidGrant.with(description: reason)
        }
        let offers = try await offersRefresh(scopes: scopes, connectorID: entry.id)
        let familyID = offers ? IDs.newID() : ""
        let request = TokenRequestContext(clientID: client.id, claims: claims, scopes: scopes, nonce: params["nonce"] ?? "",
                                          connectorID: entry.id, authTime: now(), grantID: familyID)
        let issued = try issueTokens(request)
        var response = TokenResponse(access_token: issued.accessToken, expires_in: issued.expiresIn, id_token: issued.idToken)
        if offers {
            let family = try await createRefreshToken(request, id: familyID, connectorData: identity.connectorData, authCodeID: "")
            response.refresh_token = DexEncoding.refreshToken(id: family.id, token: family.token)
        }
        return response
    }
}
