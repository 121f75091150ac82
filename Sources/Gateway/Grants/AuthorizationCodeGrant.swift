import Connectors
import Crypto
import FedgateCore
import Foundation
import Storage

/// `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.6).
extension Gateway {
    func authorizationCodeGrant(_ params: FormParameters, client: Client, context: GatewayRequestContext) async throws -> TokenResponse {
        guard let codeID = params["code"] else { throw OAuthError.invalidRequest.with(description: "Missing code parameter.") }
        guard codeID.utf8.count <= 64, !codeID.contains(".") else {
            throw Self.invalidCode
        }
        let code: AuthCode
        do { code = try await storage.getAuthCode(id: codeID) } catch let e as StorageError where e.isNotFound {
            try await revokeRedeemed(codeID: codeID, params: params, client: client, context: context)
            throw Self.invalidCode
        }
        guard code.clientID == client.id else {
            throw Self.invalidCode
        }
        guard code.expiry > now() else {
            // A redeemed code whose deletion failed is still a replay once it has expired.
            try await revokeRedeemed(codeID: codeID, params: params, client: client, context: context)
            try? await storage.deleteAuthCode(id: code.id)
            throw Self.invalidCode
        }
        guard params["redirect_uri"] == code.redirectURI else {
            throw OAuthError.invalidGrant.with(description: "redirect_uri did not match the URI from the initial request.")
        }
        try Self.verifyPKCE(code.pkce, verifier: params["code_verifier"])

        // Claim the code by recording its redemption, naming the family it is about to create:
        // exactly one exchange creates the marker; any other, concurrent or later, is a replay.
        // The marker is written before any token exists, so a replay can always reach them. The
        // family id is drawn even when no family follows, so no two claims are ever the same bytes.
        let offers = try await offersRefresh(scopes: code.scopes, connectorID: code.connectorID)
        let familyID = IDs.newID()
        do {
            try await storage.createAuthCode(RedeemedCode.marker(for: code, familyID: familyID, lifetime: settings.authCodeLifetime))
        } catch let e as StorageError where e.isAlreadyExists {
            try await revokeRedeemed(codeID: codeID, params: params, client: client, context: context)
            throw Self.invalidCode
        } catch {
            // It may have landed all the same (a timeout): take it back, so a retry is no replay.
            releaseClaim(code, familyID: familyID, context: context)
            throw error
        }

        let request = TokenRequestContext(clientID: client.id, claims: code.claims, scopes: code.scopes, nonce: code.nonce,
                                          connectorID: code.connectorID, authTime: code.authTime,
                                          grantID: offers ? familyID : code.id)
        var response: TokenResponse
        do {
            let issued = try issueTokens(request)
            response = TokenResponse(access_token: issued.accessToken, expires_in: issued.expiresIn, id_token: issued.idToken)
            if offers {
                let family = try await createRefreshToken(request, id: familyID, connectorData: code.connectorData, authCodeID: code.id)
                // A replay that came while the family did not exist yet left its own mark: it
                // found nothing to revoke, so this exchange ends what it just created.
                if try await replayRecorded(codeID: code.id) {
                    try await revokeFamily(family, reason: "authorization code reused", context: context)
                    throw Self.invalidCode
                }
                response.refresh_token = DexEncoding.refreshToken(id: family.id, token: family.token)
            }
        } catch let e as OAuthError {
            throw e
        } catch {
            // A fault (storage unavailable: 503) before anything was handed out: nothing was
            // decided about the code, so the client's retry must find it as it was.
            releaseClaim(code, familyID: familyID, context: context)
            throw error
        }
        // The claim already makes the code unusable; deleting it only tidies (GC would too).
        do { try await storage.deleteAuthCode(id: code.id) } catch {
            context.logger.warning("could not delete a redeemed code", metadata: ["error": "\(error)"])
        }
        return response
    }

    /// The one answer for a code that cannot be redeemed, whatever the reason (unknown, expired,
    /// another client's, replayed), so the answer reveals nothing about which.
    static let invalidCode = OAuthError.invalidGrant.with(description: "Invalid or expired code parameter.")

    /// Undoes this exchange's claim: its family if created (the session's reference first, as
    /// `revokeFamily` does), then its marker, only while the marker still names this exchange's
    /// family id. The fault that made the exchange fail usually lasts a moment, so the release
    /// runs in the background and tries again with a growing pause (about half a minute in all)
    /// until every step went through; the client's retry then finds the code as it was.
    func releaseClaim(_ code: AuthCode, familyID: String, context: GatewayRequestContext) {
        let storage = self.storage, logger = context.logger
        Task {
            var pause = Duration.milliseconds(50)
            for _ in 0..<10 {
                do {
                    try await Self.deleteFamily(familyID, userID: code.claims.userID, connectorID: code.connectorID, in: storage)
                    do {
                        let marker = try await storage.getAuthCode(id: RedeemedCode.prefix + code.id)
                        if RedeemedCode.familyID(marker) == familyID { try await storage.deleteAuthCode(id: marker.id) }
                    } catch let e as StorageError where e.isNotFound {}
                    return
                } catch {
                    try? await Task.sleep(for: pause)
                    pause = min(pause * 2, .seconds(5))
                }
            }
            logger.warning("could not release the claim of a failed code exchange; a retry will count as a replay")
        }
    }

    /// What a redeemed code leaves behind, until the code would have expired, so a replay can be
    /// traced to the tokens it produced and revoke them (RFC 6749 §4.1.2, RFC 6819 §5.2.1.1).
    /// Both are auth-code records under prefixes no real code has (IDs start with a letter and
    /// contain no dot), so every backend keeps and collects them as it does codes. Their
    /// `clientID` is empty, so not even a Dex sharing the storage could redeem one as a code; the
    /// owning client is kept in `nonce`.
    enum RedeemedCode {
        /// `redeemed.<code>`: the redemption, naming the token family it created (if any), with
        /// the code's `redirect_uri` and PKCE challenge, which a replay must match to count.
        static let prefix = "redeemed."
        /// `replayed.<code>`: a replay that came before the family existed.
        static let replayPrefix = "replayed."

        static func marker(for code: AuthCode, familyID: String, lifetime: TimeInterval) -> AuthCode {
            AuthCode(id: prefix + code.id, clientID: "", redirectURI: code.redirectURI, nonce: code.clientID,
                     connectorID: code.connectorID, connectorData: Data(familyID.utf8), claims: code.claims,
                     expiry: code.expiry.addingTimeInterval(lifetime), pkce: code.pkce)
        }

        static func familyID(_ marker: AuthCode) -> String { String(decoding: marker.connectorData ?? Data(), as: UTF8.self) }

        /// The client the code was issued to (markers of earlier versions kept it in `clientID`).
        static func owner(_ marker: AuthCode) -> String { marker.clientID.isEmpty ? marker.nonce : marker.clientID }

        static func replay(of marker: AuthCode, codeID: String) -> AuthCode {
            AuthCode(id: replayPrefix + codeID, clientID: "", redirectURI: "", nonce: owner(marker), connectorID: marker.connectorID,
                     claims: marker.claims, expiry: marker.expiry)
        }
    }

    /// A code presented again: revoke the refresh token family it created and the access tokens
    /// it gave. The replay counts only from the code's own client with the code's `redirect_uri`
    /// and PKCE verifier: whoever merely intercepted a PKCE code cannot end the user's session.
    /// The replay is recorded first, so an exchange still creating that family sees it afterwards
    /// and revokes the family itself: whichever order the two land in, the family ends.
    func revokeRedeemed(codeID: String, params: FormParameters, client: Client, context: GatewayRequestContext) async throws {
        let marker: AuthCode
        do { marker = try await storage.getAuthCode(id: RedeemedCode.prefix + codeID) } catch let e as StorageError where e.isNotFound { return }
        guard RedeemedCode.owner(marker) == client.id else { return }
        if !marker.redirectURI.isEmpty {
            guard params["redirect_uri"] == marker.redirectURI, (try? Self.verifyPKCE(marker.pkce, verifier: params["code_verifier"])) != nil else { return }
        }
        context.logger.warning("authorization code reused; revoking the tokens it issued", metadata: ["client_id": .string(client.id)])
        do { try await storage.createAuthCode(RedeemedCode.replay(of: marker, codeID: codeID)) } catch let e as StorageError where e.isAlreadyExists {}
        // The access tokens: those of the exchange (named by the family, or by the code when
        // there is none) and those a hybrid flow issued with the code (named by the code).
        try await recordRevokedGrant(codeID)
        // The marker read again after the replay is on record: a failed exchange may have released
        // its claim meanwhile and a retry claimed the code anew, with another family (which, from
        // now on, finds the replay record itself).
        var families = [RedeemedCode.familyID(marker)]
        if let now = try? await storage.getAuthCode(id: RedeemedCode.prefix + codeID), !families.contains(RedeemedCode.familyID(now)) {
            families.append(RedeemedCode.familyID(now))
        }
        for familyID in families where !familyID.isEmpty {
            if let record = try await storedRefreshToken(id: familyID) {
                try await revokeFamily(record, reason: "authorization code reused", context: context)
            } else {
                try await recordRevokedGrant(familyID)
            }
        }
    }

    func replayRecorded(codeID: String) async throws -> Bool {
        do { _ = try await storage.getAuthCode(id: RedeemedCode.replayPrefix + codeID); return true } catch let e as StorageError where e.isNotFound {
            return false
        }
    }

    /// RFC 7636 §4.6: S256 compares base64url(SHA-256(verifier)), plain compares directly.
    static func verifyPKCE(_ pkce: PKCE, verifier: String?) throws {
        guard !pkce.codeChallenge.isEmpty else {
            if verifier != nil { throw OAuthError.invalidRequest.with(description: "No PKCE flow started. Cannot check code_verifier.") }
            return
        }
        guard let verifier else { throw OAuthError.invalidGrant.with(description: "Expecting parameter code_verifier in PKCE flow.") }
        guard (43...128).contains(verifier.utf8.count) else {
            throw OAuthError.invalidGrant.with(description: "code_verifier must be 43 to 128 characters.")
        }
        let computed: String
        switch pkce.codeChallengeMethod {
        case "S256": computed = Base64URL.encode(SHA256.hash(data: Data(verifier.utf8)))
        default: computed = verifier
        }
        guard ConstantTime.equals(computed, pkce.codeChallenge) else {
            throw OAuthError.invalidGrant.with(description: "The code_verifier does not match the code_challenge.")
        }
    }

    /// Dex: a refresh token only with `offline_access`, from a connector that can refresh and
    /// allows the refresh grant.
    func offersRefresh(scopes: [String], connectorID: String) async throws -> Bool {
        guard scopes.contains(Scope.offlineAccess), settings.grantTypes.contains("refresh_token"),
              let entry = connectors[connectorID], entry.connector is any RefreshConnector,
              entry.allows(grantType: "refresh_token") else { return false }
        return true
    }

    /// Creates a new token family and records it in the user's offline session.
    func createRefreshToken(_ request: TokenRequestContext, id: String = IDs.newID(), connectorData: Data?,
                            authCodeID: String) async throws -> RefreshToken {
        let issuedAt = now()
        let token = RefreshToken(
            id: id, token: IDs.newSecret(), createdAt: issuedAt, lastUsed: issuedAt, clientID: request.clientID,
            connectorID: request.connectorID, connectorData: connectorData, claims: request.claims, scopes: request.scopes,
            nonce: request.nonce, authCodeID: authCodeID, authTime: request.authTime
        )
        try await storage.createRefreshToken(token)
        let ref = RefreshTokenRef(id: token.id, clientID: token.clientID, createdAt: issuedAt, lastUsed: issuedAt)
        let userID = request.claims.userID
        // Update the user's session, or create it; another grant (or the garbage collector) may
        // create or delete it in between, so a lost race is tried again, never a 500.
        for _ in 1...3 {
            do {
                try await storage.updateOfflineSession(userID: userID, connectorID: request.connectorID) {
                    $0.refresh[ref.id] = ref
                    $0.connectorData = connectorData
                }
                return token
            } catch let e as StorageError where e.isNotFound {
                do {
                    try await storage.createOfflineSession(OfflineSession(userID: userID, connectorID: request.connectorID,
                                                                          refresh: [ref.id: ref], connectorData: connectorData))
                    return token
                } catch let e as StorageError where e.isAlreadyExists {}
            }
        }
        throw StorageError.conflict   // 503: lost every race; the client's retry starts over
    }
}
