import FedgateCore
import Foundation
import Storage

/// Sample objects with every field set, so a round trip checks the whole encoding.
///
/// Times are rounded to the millisecond (as Dex's suite does): backends must return such dates
/// unchanged (`==`), while finer precision is not part of the contract.
enum Fixtures {
    /// `date` rounded to the millisecond.
    static func ms(_ date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded() / 1000)
    }

    /// Now, rounded to the millisecond.
    static func now() -> Date { ms(Date()) }

    static func claims(_ userID: String = "user-1") -> Claims {
        Claims(userID: userID, username: "Jane Doe", preferredUsername: "jane", email: "jane.doe@example.com",
               emailVerified: true, groups: ["admins", "developers"])
    }

    static func client(_ id: String) -> Client {
        Client(id: id, secret: "secret-\(id)", redirectURIs: ["https://app.example/callback", "http://localhost:8080/cb"],
               trustedPeers: ["peer-a"], isPublic: false, name: "App \(id)", logoURL: "https://app.example/logo.png")
    }

    static func authRequest(_ id: String, expiry: Date) -> AuthRequest {
        AuthRequest(id: id, clientID: "client-1", responseTypes: ["code"], scopes: ["openid", "email", "groups"],
                    redirectURI: "https://app.example/callback", nonce: "nonce-\(id)", state: "state-\(id)",
                    forceApprovalPrompt: true, expiry: expiry, loggedIn: true, claims: claims(),
                    connectorID: "ldap", connectorData: Data([0, 1, 2, 0xFF]),
                    pkce: PKCE(codeChallenge: "challenge", codeChallengeMethod: "S256"),
                    hmacKey: Data(repeating: 7, count: 32), prompt: "login consent", maxAge: 300,
                    authTime: expiry.addingTimeInterval(-3600))
    }

    static func authCode(_ id: String, expiry: Date) -> AuthCode {
        AuthCode(id: id, clientID: "client-1", redirectURI: "https://app.example/callback", nonce: "nonce",
                 scopes: ["openid", "offline_access"], connectorID: "ldap", connectorData: Data("upstream".utf8),
                 claims: claims(), expiry: expiry, pkce: PKCE(codeChallenge: "c", codeChallengeMethod: "plain"),
                 authTime: expiry.addingTimeInterval(-60))
    }

    static func refreshToken(_ id: String, createdAt: Date, lastUsed: Date? = nil, userID: String = "user-1") -> RefreshToken {
        RefreshToken(id: id, token: "token-\(id)", obsoleteToken: "old-\(id)", createdAt: createdAt,
                     lastUsed: lastUsed ?? createdAt, clientID: "client-1", connectorID: "ldap",
                     connectorData: Data("refresh-data".utf8), claims: claims(userID), scopes: ["openid", "offline_access"],
                     nonce: "n", authCodeID: "code-1", authTime: createdAt)
    }

    static func offlineSession(userID: String, connectorID: String, refreshIDs: [String], at date: Date) -> OfflineSession {
        var refs: [String: RefreshTokenRef] = [:]
        for id in refreshIDs { refs[id] = RefreshTokenRef(id: id, clientID: "client-1", createdAt: date, lastUsed: date) }
        return OfflineSession(userID: userID, connectorID: connectorID, refresh: refs, connectorData: Data("session".utf8))
    }

    static func password(_ email: String) -> Password {
        Password(email: email, hash: "$2a$10$33EMT0cVYVlPy6WAMCLsceLYjWhuHpbz5yuZxu/GAFj03J9Lytjuy",
                 username: "admin", name: "Admin User", preferredUsername: "admin", emailVerified: true,
                 userID: "08a8684b-db88-4b73-90a9-3cd1661f5466", groups: ["ops"])
    }

    static func connector(_ id: String) -> ConnectorRecord {
        ConnectorRecord(id: id, type: "oidc", name: "Connector \(id)", resourceVersion: "1",
                        config: Data(#"{"issuer":"https://idp.example"}"#.utf8), grantTypes: ["authorization_code"])
    }

    static func deviceRequest(_ userCode: String, expiry: Date) -> DeviceRequest {
        DeviceRequest(userCode: userCode, deviceCode: "device-\(userCode)", clientID: "client-1",
                      clientSecret: "device-secret", scopes: ["openid", "profile"], expiry: expiry)
    }

    static func deviceToken(_ deviceCode: String, expiry: Date) -> DeviceToken {
        DeviceToken(deviceCode: deviceCode, status: "pending", token: "", expiry: expiry,
                    lastRequestTime: expiry.addingTimeInterval(-290), pollIntervalSeconds: 5,
                    pkce: PKCE(codeChallenge: "dc", codeChallengeMethod: "S256"))
    }

    static func keys(at date: Date) -> Keys {
        Keys(signingKey: SigningKey(kid: "kid-1", algorithm: "RS256",
                                    privateKeyPEM: "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
                                    publicJWK: #"{"kty":"RSA","kid":"kid-1","n":"abc","e":"AQAB"}"#),
             nextSigningKey: SigningKey(kid: "kid-2", algorithm: "ES256", privateKeyPEM: "pem-2", publicJWK: "{}"),
             verificationKeys: [VerificationKey(kid: "kid-0", publicJWK: "{}", expiry: date.addingTimeInterval(3600))],
             nextRotation: date.addingTimeInterval(6 * 3600))
    }
}
