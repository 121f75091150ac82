import FedgateCore
import Foundation
import Signing
import Storage

/// Everything a token is minted from.
struct TokenRequestContext: Sendable {
    var clientID: String
    var claims: Claims
    var scopes: [String]
    var nonce: String
    var connectorID: String
    var authTime: Date?
    /// What the tokens are revoked with: the refresh token family's id, else the code's id, else
    /// empty (nothing can revoke them; the access token then has no `sid`).
    var grantID: String
}

struct IssuedTokens: Sendable {
    var accessToken: String
    var idToken: String
    var expiresIn: Int
}

/// Builds and signs ID tokens and access tokens (Dex `server/tokens`).
///
/// Dex's access token is an ID-token-shaped JWT; clients and gateways (kube-apiserver,
/// oauth2-proxy) rely on that, so Fedgate keeps it. The ID token's `at_hash` binds it to the
/// access token, `c_hash` to the code in hybrid flows.
extension Gateway {
    func issueTokens(_ request: TokenRequestContext, code: String? = nil) throws -> IssuedTokens {
        let issuedAt = now()
        let expiry = issuedAt.addingTimeInterval(settings.idTokenLifetime)
        let snapshot = keys.snapshot
        let algorithm = snapshot.algorithm.name

        var base = try baseClaims(request, issuedAt: issuedAt, expiry: expiry)
        var access = base
        // The access token carries its scopes so introspection (RFC 7662) can report them.
        access.scope = request.scopes.joined(separator: " ")
        access.atHash = TokenClaims.halfHash(IDs.newID(), algorithm: algorithm)
        if !request.grantID.isEmpty { access.sid = RevokedGrant.handle(request.grantID) }
        let accessToken = try snapshot.sign(access)

        base.atHash = TokenClaims.halfHash(accessToken, algorithm: algorithm)
        if let code { base.cHash = TokenClaims.halfHash(code, algorithm: algorithm) }
        let idToken = try snapshot.sign(base)
        return IssuedTokens(accessToken: accessToken, idToken: idToken, expiresIn: Int(settings.idTokenLifetime))
    }

    func baseClaims(_ request: TokenRequestContext, issuedAt: Date, expiry: Date) throws -> TokenClaims {
        var audience: [String] = []
        var authorizingParty: String?
        for scope in request.scopes where scope.hasPrefix(Scope.crossClientPrefix) {
            let peer = String(scope.dropFirst(Scope.crossClientPrefix.count))
            if !audience.contains(peer) { audience.append(peer) }
        }
        if audience.isEmpty {
            audience = [request.clientID]
        } else {
            if !audience.contains(request.clientID) { audience.append(request.clientID) }
            authorizingParty = request.clientID
        }
        var claims = TokenClaims(
            iss: settings.issuer,
            sub: DexEncoding.subject(userID: request.claims.userID, connectorID: request.connectorID),
            aud: audience,
            exp: expiry,
            iat: issuedAt
        )
        claims.azp = authorizingParty
        claims.nonce = request.nonce.isEmpty ? nil : request.nonce
        claims.authTime = request.authTime
        let scopes = Set(request.scopes)
        if scopes.contains(Scope.email), !request.claims.email.isEmpty {
            claims.email = request.claims.email
            claims.emailVerified = request.claims.emailVerified
        }
        if scopes.contains(Scope.groups) { claims.groups = request.claims.groups }
        if scopes.contains(Scope.profile) {
            claims.name = request.claims.username
            claims.preferredUsername = request.claims.preferredUsername.isEmpty ? nil : request.claims.preferredUsername
        }
        if scopes.contains(Scope.federatedID) {
            claims.federatedClaims = FederatedClaims(connectorID: request.connectorID, userID: request.claims.userID)
        }
        return claims
    }
}
