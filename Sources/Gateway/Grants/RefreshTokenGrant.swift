import ClaimMapping
import Connectors
import FedgateCore
import Foundation
import Storage

/// `grant_type=refresh_token` (RFC 6749 §6) with rotation, Dex's `reuseInterval`, and family
/// revocation on replay (OAuth 2.1 §4.3.1, RFC 6819 §5.2.2.3).
///
/// A refresh token record is one family: its id is stable and its secret rotates. Presenting the
/// previous secret within `reuseInterval` (a client retrying a lost response, or two replicas
/// racing) returns the current token; presenting it later means the token leaked, so the whole
/// family is revoked. So is presenting any older secret of the family: only the family's id
/// can be checked for those, and only a holder of one of its tokens knows the id.
extension Gateway {
    func refreshTokenGrant(_ params: FormParameters, client: Client, context: GatewayRequestContext) async throws -> TokenResponse {
        guard let presented = params["refresh_token"] else {
            throw OAuthError.invalidRequest.with(description: "Missing refresh_token parameter.")
        }
        let invalid = OAuthError.invalidGrant.with(description: "Refresh token is invalid or has already been claimed by another client.")
        guard let (id, secret) = DexEncoding.decodeRefreshToken(presented), !id.isEmpty, !secret.isEmpty else { throw invalid }
        let record: RefreshToken
        var prefetched: PrefetchedUser.Row?
        do {
            if let passwordDB = connectors.passwordDBID {
                let read = try await storage.getRefreshTokenWithUser(id: id, passwordConnectorID: passwordDB)
                record = read.token
                prefetched = read.user.map { PrefetchedUser.Row(key: read.token.claims.email.lowercased(), password: $0) }
            } else {
                record = try await storage.getRefreshToken(id: id)
            }
        } catch let e as StorageError where e.isNotFound { throw invalid }
        guard record.clientID == client.id else { throw invalid }

        let refresh = settings.refresh
        let current = now()
        let policy = RefreshExpiryPolicy(absoluteLifetime: refresh.absoluteLifetime, validIfNotUsedFor: refresh.validIfNotUsedFor)
        if policy.isExpired(record, now: current) {
            try await revokeFamily(record, reason: "expired", context: context)
            throw OAuthError.invalidGrant.with(description: "Refresh token expired.")
        }

        var isReuse = false
        if ConstantTime.equals(secret, record.token) {
            isReuse = false
        } else if !record.obsoleteToken.isEmpty, ConstantTime.equals(secret, record.obsoleteToken) {
            guard refresh.reuseInterval > 0, current.timeIntervalSince(record.lastUsed) <= refresh.reuseInterval else {
                try await revokeFamily(record, reason: "rotated-out token replayed", context: context)
                throw invalid
            }
            isReuse = true
        } else {
            // A secret of this family that is neither current nor the previous one: only a
            // holder of an older token of the family knows the id, so an older token was replayed
            // (it leaked). Within `reuseInterval` of the last rotation it may still be a client's
            // own late retry, so it is only refused then.
            if refresh.reuseInterval <= 0 || current.timeIntervalSince(record.lastUsed) > refresh.reuseInterval {
                try await revokeFamily(record, reason: "older rotated-out token replayed", context: context)
            }
            throw invalid
        }

        // Scopes may be narrowed, never widened (RFC 6749 §6).
        var scopes = record.scopes
        if let requested = params["scope"] {
            let asked = requested.split(separator: " ").map(String.init)
            let extra = asked.filter { !record.scopes.contains($0) }
            guard extra.isEmpty else {
                throw OAuthError.invalidScope.with(description: "Requested scopes \(extra) were not granted originally.")
            }
            scopes = asked
        }

        var claims = record.claims
        var connectorData = record.connectorData
        if !isReuse {
            (claims, connectorData) = try await PrefetchedUser.$current.withValue(prefetched) {
                try await refreshUpstream(record, scopes: scopes, context: context)
            }
        }

        // Compare-and-swap: only the holder of the current secret rotates it.
        let newSecret = refresh.disableRotation ? record.token : IDs.newSecret()
        let result = LockedBox<String?>(nil)
        let reuseWindow = refresh.reuseInterval
        let finalClaims = claims
        let finalData = connectorData
        try await mapRevoked {
            try await storage.updateRefreshToken(id: id) { token in
                if ConstantTime.equals(secret, token.token) {
                    if newSecret != token.token {
                        token.obsoleteToken = token.token
                        token.token = newSecret
                    }
                    token.lastUsed = current
                    token.claims = finalClaims
                    token.connectorData = finalData
                } else if !token.obsoleteToken.isEmpty, ConstantTime.equals(secret, token.obsoleteToken),
                          reuseWindow > 0, current.timeIntervalSince(token.lastUsed) <= reuseWindow {
                    // A concurrent request rotated first: hand out its token.
                } else {
                    throw invalid
                }
                result.value = token.token
            }
        }
        guard let currentSecret = result.value else { throw invalid }
        // The offline session's reference is not touched: the token record already holds
        // `lastUsed`, and a second transaction per refresh would only duplicate it.

        let request = TokenRequestContext(clientID: client.id, claims: claims, scopes: scopes, nonce: record.nonce,
                                          connectorID: record.connectorID, authTime: record.authTime, grantID: id)
        let issued = try issueTokens(request)
        return TokenResponse(
            access_token: issued.accessToken, expires_in: issued.expiresIn,
            refresh_token: DexEncoding.refreshToken(id: id, token: currentSecret), id_token: issued.idToken
        )
    }

    /// A vanished record mid-update means the family was revoked concurrently.
    func mapRevoked(_ body: () async throws -> Void) async throws {
        do { try await body() } catch let e as StorageError where e.isNotFound {
            throw OAuthError.invalidGrant.with(description: "Refresh token is invalid or has already been claimed by another client.")
        }
    }

    /// Asks the connector again, so removed users and groups take effect (Dex `RefreshConnector`).
    /// "User gone" and "upstream refused" are `invalid_grant` (Dex #3971); unreachable is 503.
    func refreshUpstream(_ record: RefreshToken, scopes: [String], context: GatewayRequestContext) async throws -> (Claims, Data?) {
        guard let entry = connectors[record.connectorID] else {
            throw OAuthError.invalidGrant.with(description: "The connector that issued this token no longer exists.")
        }
        if let allowed = settings.allowedConnectors[record.clientID], !allowed.contains(entry.id) {
            throw OAuthError.invalidGrant.with(description: "This client may no longer use the connector that issued this token.")
        }
        guard let connector = entry.connector as? any RefreshConnector else { return (record.claims, record.connectorData) }
        let previous = UpstreamIdentity(
            userID: record.claims.userID, username: record.claims.username, preferredUsername: record.claims.preferredUsername,
            email: record.claims.email, emailVerified: record.claims.emailVerified, groups: record.claims.groups,
            connectorData: record.connectorData
        )
        let identity: UpstreamIdentity
        do {
            identity = try await connector.refresh(scopes: Scope.connectorScopes(scopes), identity: previous)
        } catch let e as ConnectorError {
            context.logger.info("upstream refresh failed", metadata: ["connector": .string(entry.id), "error": .string(e.reason)])
            switch e.code {
            case .userNotFound, .refused, .notInRequiredGroups:
                // The upstream decided about this user: the family ends (Dex #3971).
                try? await revokeFamily(record, reason: "upstream refused refresh", context: context)
                throw OAuthError.invalidGrant.with(description: "The identity provider refused the refresh: \(e.reason)")
            case .unreachable:
                throw OAuthError.temporarilyUnavailable.with(description: "The identity provider is unreachable; retry later.")
            case .upstreamError, .invalidConfig:
                // A fault, not a decision (a directory ACL, a size limit, a broken setting): the
                // tokens stay, so the client can retry once it is fixed.
                throw OAuthError.temporarilyUnavailable.with(description: "The identity provider could not check this user; retry later.")
            }
        }
        switch entry.mapper.map(identity) {
        case .allowed(let claims): return (claims, identity.connectorData)
        case .rejected(let reason):
            try? await revokeFamily(record, reason: "claim mapping rejected", context: context)
            throw OAuthError.invalidGrant.with(description: reason)
        }
    }

    /// Deletes a token family and its offline-session reference. The revocation is recorded
    /// first, so the family's access tokens introspect inactive even if the deletion fails.
    func revokeFamily(_ record: RefreshToken, reason: String, context: GatewayRequestContext) async throws {
        context.logger.warning("revoking refresh token family", metadata: ["client_id": .string(record.clientID), "reason": .string(reason)])
        try await recordRevokedGrant(record.id)
        // Access tokens a hybrid flow gave with the code of this login are named by the code.
        if !record.authCodeID.isEmpty { try await recordRevokedGrant(record.authCodeID) }
        try await Self.deleteFamily(record.id, userID: record.claims.userID, connectorID: record.connectorID, in: storage)
    }

    /// Removes a family: the offline session's reference first, then the token. Two writes, so a
    /// fault between them must leave what a retry completes: a failure propagates (503) and the
    /// token is still there to be removed again; the other order left a reference to a deleted
    /// token behind, listed in the user's sessions forever. Either part already gone is fine.
    static func deleteFamily(_ id: String, userID: String, connectorID: String, in storage: any GatewayStorage) async throws {
        do {
            try await storage.updateOfflineSession(userID: userID, connectorID: connectorID) { $0.refresh[id] = nil }
        } catch let e as StorageError where e.isNotFound {}
        do { try await storage.deleteRefreshToken(id: id) } catch let e as StorageError where e.isNotFound {}
    }
}
