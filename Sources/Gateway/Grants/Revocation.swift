import FedgateCore
import Foundation
import Hummingbird
import Signing
import Storage

/// `POST /token/revoke` (RFC 7009) and `POST /token/introspect` (RFC 7662).
///
/// Both authenticate the client (Dex's introspection does not), and a client only ever sees or
/// revokes its own tokens. Access tokens are self-contained JWTs, so revoking one is refused with
/// `unsupported_token_type` (RFC 7009 §2.2.1); revoking the refresh token ends its whole family,
/// and introspection then reports the family's access tokens inactive (`RevokedGrant`).
extension Gateway {
    func handleRevoke(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let params = try await parameters(request, context, includeQuery: false)
        let client = try await authenticateClient(request, params)
        guard let token = params["token"] else { throw OAuthError.invalidRequest.with(description: "Missing token parameter.") }
        if let (id, secret) = DexEncoding.decodeRefreshToken(token), !id.isEmpty, !secret.isEmpty,
           let record = try await storedRefreshToken(id: id),
           ConstantTime.equals(secret, record.token) || (!record.obsoleteToken.isEmpty && ConstantTime.equals(secret, record.obsoleteToken)) {
            guard record.clientID == client.id else {
                throw OAuthError.unauthorizedClient.with(description: "The token was not issued to this client.")
            }
            try await revokeFamily(record, reason: "revoked by client", context: context)
            return Response(status: .ok, headers: [.cacheControl: "no-store"])
        }
        if token.split(separator: ".").count == 3, (try? keys.snapshot.verify(token)) != nil {
            throw OAuthError.unsupportedTokenType.with(description: "Access tokens are short-lived JWTs and cannot be revoked; revoke the refresh token.")
        }
        // RFC 7009 §2.2: an invalid or unknown token is answered 200 all the same.
        return Response(status: .ok, headers: [.cacheControl: "no-store"])
    }

    /// The stored refresh token, or nil when there is none. A storage failure is not "no such
    /// token": it propagates (503), so a revocation never reports success while the token lives.
    func storedRefreshToken(id: String) async throws -> RefreshToken? {
        do { return try await storage.getRefreshToken(id: id) } catch let e as StorageError where e.isNotFound { return nil }
    }

    /// RFC 7662's answer in Dex's shape (`server/introspection`): `token_type` is `Bearer`,
    /// `token_use` says which token it was, `ext` carries the identity claims a resource server
    /// reads (groups, email, ...), and `aud` is a string when there is one audience.
    struct Introspection: Encodable {
        var active: Bool
        var client_id: String?
        var sub: String?
        var scope: String?
        var exp: Int?
        var iat: Int?
        var nbf: Int?
        var iss: String?
        var aud: Audience?
        var token_type: String?
        var token_use: String?
        var username: String?
        var ext: Extra?

        /// One audience as a string, several as a list (as Dex's `audience` type marshals).
        struct Audience: Encodable {
            let values: [String]
            func encode(to encoder: any Encoder) throws {
                var c = encoder.singleValueContainer()
                if values.count == 1 { try c.encode(values[0]) } else { try c.encode(values) }
            }
        }

        struct Extra: Encodable {
            var azp: String?
            var email: String?
            var email_verified: Bool?
            var groups: [String]?
            var name: String?
            var preferred_username: String?
            var federated_claims: FederatedClaims?
        }
    }

    func handleIntrospect(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let params = try await parameters(request, context, includeQuery: false)
        let client = try await authenticateClient(request, params)
        guard let token = params["token"] else { throw OAuthError.invalidRequest.with(description: "Missing token parameter.") }
        let inactive = Introspection(active: false)
        // `token_type_hint` is only a hint (RFC 7662 §2.1: a token not found under it is looked
        // up as the other types too). The shapes never overlap: an access token is a JWT (three
        // dot-separated parts), a refresh token is one base64url string, so both are tried.
        if token.split(separator: ".").count == 3,
           let claims = try? keys.snapshot.verify(token), claims.iss == settings.issuer, claims.exp > now() {
            let owner = claims.azp ?? claims.aud.first
            guard owner == client.id || claims.aud.contains(client.id) else { return try Responses.json(inactive) }
            // Its refresh token family was revoked, or its code replayed.
            guard try await !accessTokenRevoked(claims) else { return try Responses.json(inactive) }
            let iat = Int(claims.iat.timeIntervalSince1970)
            return try Responses.json(Introspection(
                active: true, client_id: owner, sub: claims.sub, scope: claims.scope,
                exp: Int(claims.exp.timeIntervalSince1970), iat: iat, nbf: iat,
                iss: claims.iss, aud: .init(values: claims.aud), token_type: "Bearer", token_use: "access_token",
                username: claims.preferredUsername ?? claims.name,
                ext: .init(azp: claims.azp, email: claims.email, email_verified: claims.emailVerified, groups: claims.groups,
                           name: claims.name, preferred_username: claims.preferredUsername, federated_claims: claims.federatedClaims)
            ))
        }
        if let (id, secret) = DexEncoding.decodeRefreshToken(token), !id.isEmpty, !secret.isEmpty,
           let record = try await storedRefreshToken(id: id), ConstantTime.equals(secret, record.token),
           record.clientID == client.id {
            let policy = RefreshExpiryPolicy(absoluteLifetime: settings.refresh.absoluteLifetime,
                                             validIfNotUsedFor: settings.refresh.validIfNotUsedFor)
            guard !policy.isExpired(record, now: now()) else { return try Responses.json(inactive) }
            var expiry: Date?
            if settings.refresh.absoluteLifetime > 0 { expiry = record.createdAt.addingTimeInterval(settings.refresh.absoluteLifetime) }
            if settings.refresh.validIfNotUsedFor > 0 {
                let idle = record.lastUsed.addingTimeInterval(settings.refresh.validIfNotUsedFor)
                expiry = expiry.map { min($0, idle) } ?? idle
            }
            let user = record.claims
            let iat = Int(record.createdAt.timeIntervalSince1970)
            return try Responses.json(Introspection(
                active: true, client_id: record.clientID,
                sub: DexEncoding.subject(userID: user.userID, connectorID: record.connectorID),
                scope: record.scopes.joined(separator: " "), exp: expiry.map { Int($0.timeIntervalSince1970) },
                iat: iat, nbf: iat, iss: settings.issuer, aud: .init(values: [record.clientID]),
                token_type: "Bearer", token_use: "refresh_token",
                username: user.preferredUsername.isEmpty ? user.username : user.preferredUsername,
                ext: .init(azp: record.clientID, email: user.email.isEmpty ? nil : user.email, email_verified: user.emailVerified,
                           groups: user.groups.isEmpty ? nil : user.groups, name: user.username.isEmpty ? nil : user.username,
                           preferred_username: user.preferredUsername.isEmpty ? nil : user.preferredUsername,
                           federated_claims: FederatedClaims(connectorID: record.connectorID, userID: user.userID))
            ))
        }
        return try Responses.json(inactive)
    }
}
