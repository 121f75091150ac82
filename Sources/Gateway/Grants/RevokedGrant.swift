import Crypto
import FedgateCore
import Foundation
import Signing
import Storage

/// Revoked grants, for the access tokens they issued.
///
/// Access tokens are self-contained JWTs, so a revoked refresh token family (or a replayed code)
/// cannot take them back from a resource server that only checks the signature. Introspection
/// (RFC 7662) and userinfo can: every access token carries `sid`, a one-way handle on its grant,
/// and revoking the grant records `revoked.<handle>` until the last access token it could have
/// issued expires (RFC 7009 §2.1: revoking a refresh token should invalidate the access tokens
/// of the same grant). The handle is a hash, so an access token never reveals the refresh token
/// family's id (with which a replay could end the family).
enum RevokedGrant {
    static let prefix = "revoked."
    /// Kept this much longer than an access token lives: a grant racing the revocation (a
    /// refresh that rotated just before) or a replica's clock a little ahead still issue tokens
    /// that expire later than `now + idTokenLifetime` taken at the revocation.
    static let margin: TimeInterval = 300

    static func handle(_ grantID: String) -> String {
        Base64URL.encode(SHA256.hash(data: Data(("fedgate grant " + grantID).utf8)))
    }
}

extension Gateway {
    /// Records the revocation of a grant (a family's id or a code's id). Kept as an auth-code
    /// record under a prefix no code has, so every backend keeps and collects it as it does codes.
    func recordRevokedGrant(_ grantID: String) async throws {
        let marker = AuthCode(id: RevokedGrant.prefix + RevokedGrant.handle(grantID), clientID: "", redirectURI: "",
                              connectorID: "", claims: Claims(userID: "", username: ""),
                              expiry: now().addingTimeInterval(settings.idTokenLifetime + RevokedGrant.margin))
        do { try await storage.createAuthCode(marker) } catch let e as StorageError where e.isAlreadyExists {}
    }

    /// Whether the grant an access token came from was revoked. A storage failure propagates
    /// (503): an access token is never reported active because the check could not run.
    func accessTokenRevoked(_ claims: TokenClaims) async throws -> Bool {
        guard let sid = claims.sid, !sid.isEmpty, sid.utf8.count <= 64 else { return false }
        do {
            _ = try await storage.getAuthCode(id: RevokedGrant.prefix + sid)
            return true
        } catch let e as StorageError where e.isNotFound {
            return false
        }
    }
}
