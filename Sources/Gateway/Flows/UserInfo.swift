import FedgateCore
import Foundation
import Hummingbird
import Signing

/// `/userinfo` (OIDC Core §5.3): verifies the Bearer access token and returns its claims.
extension Gateway {
    func handleUserInfo(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        var token: String?
        if let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") {
            token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        } else if request.method == .post {
            token = try await parameters(request, context, includeQuery: false)["access_token"]
        }
        let challenge = "Bearer realm=\"fedgate\""
        guard let token, !token.isEmpty, token.utf8.count <= 16384 else {
            throw OAuthError(code: "invalid_request", description: "Missing bearer token.", status: .unauthorized, wwwAuthenticate: challenge)
        }
        let claims: TokenClaims
        do { claims = try keys.snapshot.verify(token) } catch {
            throw OAuthError(code: "invalid_token", description: "Invalid bearer token.", status: .unauthorized,
                             wwwAuthenticate: challenge + ", error=\"invalid_token\"")
        }
        guard claims.iss == settings.issuer, claims.exp > now() else {
            throw OAuthError(code: "invalid_token", description: "Expired or foreign bearer token.", status: .unauthorized,
                             wwwAuthenticate: challenge + ", error=\"invalid_token\"")
        }
        guard try await !accessTokenRevoked(claims) else {
            throw OAuthError(code: "invalid_token", description: "The grant this token came from was revoked.", status: .unauthorized,
                             wwwAuthenticate: challenge + ", error=\"invalid_token\"")
        }
        // Dex echoes every claim of the verified token (`server/userinfo`): `federated_claims`,
        // `iss`, `aud`, `exp` included. The payload is exactly those claims, and its signature
        // was just checked.
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let payload = Base64URL.decode(String(parts[1])) else {
            throw OAuthError(code: "invalid_token", description: "Invalid bearer token.", status: .unauthorized,
                             wwwAuthenticate: challenge + ", error=\"invalid_token\"")
        }
        return Responses.noStoreJSON(ByteBuffer(bytes: payload))
    }
}
