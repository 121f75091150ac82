import FedgateCore
import Foundation
@testable import Storage

/// What Fedgate must read from `DexSQLFixture.rows`, object by object.
extension DexSQLFixture {
    static let claims = Claims(userID: "u-1", username: "Jane", preferredUsername: "jane", email: "jane@example.com",
                               emailVerified: true, groups: ["admins", "ops"])

    static let clients = [
        Client(id: "app", secret: "s3cret", redirectURIs: ["https://app.example/cb"], trustedPeers: [], isPublic: false,
               name: "App", logoURL: "https://app.example/logo.png"),
        Client(id: "cli", secret: "", redirectURIs: [], trustedPeers: ["app"], isPublic: true, name: "CLI"),
    ]
    static let passwords = [
        Password(email: "jane@example.com", hash: "$2a$10$abcdefghijklmnopqrstuv", username: "jane", name: "Jane Doe",
                 preferredUsername: "jj", emailVerified: false, userID: "u-1", groups: ["ops"]),
        Password(email: "old@example.com", hash: "$2a$10$zyx", username: "old", emailVerified: true, userID: "u-old"),
    ]
    static let refreshTokens = [
        RefreshToken(id: "rt-1", token: "tok-1", obsoleteToken: "tok-0", createdAt: now, lastUsed: now.addingTimeInterval(30),
                     clientID: "app", connectorID: "ldap", connectorData: Data([0, 1, 0xFE]), claims: claims,
                     scopes: ["openid", "offline_access"], nonce: "n-1"),
        RefreshToken(id: "rt-2", token: "", createdAt: yearOne, lastUsed: yearOne, clientID: "cli", connectorID: "local",
                     claims: Claims(userID: "u-2", username: "bob", email: "bob@example.com"), scopes: ["openid"]),
    ]
    static let sessions = [
        OfflineSession(userID: "u-1", connectorID: "ldap",
                       refresh: ["rt-1": RefreshTokenRef(id: "rt-1", clientID: "app", createdAt: now, lastUsed: now)],
                       connectorData: Data("session".utf8)),
    ]
    static let connectors = [
        ConnectorRecord(id: "ldap", type: "ldap", name: "Corp LDAP", resourceVersion: "3",
                        config: Data(#"{"host":"ldap.example:636"}"#.utf8)),
    ]
    static let authRequests = [
        AuthRequest(id: "ar-1", clientID: "app", responseTypes: ["code"], scopes: ["openid"], redirectURI: "https://app.example/cb",
                    nonce: "n", state: "st", forceApprovalPrompt: true, expiry: expiry, loggedIn: true, claims: claims,
                    connectorID: "ldap", pkce: PKCE(codeChallenge: "ch", codeChallengeMethod: "S256"),
                    hmacKey: Data(repeating: 9, count: 32)),
    ]
    static let authCodes = [
        AuthCode(id: "code-1", clientID: "app", redirectURI: "https://app.example/cb", nonce: "n", scopes: ["openid"],
                 connectorID: "ldap", connectorData: Data("cd".utf8), claims: claims, expiry: expiry),
    ]
    static let deviceRequests = [
        DeviceRequest(userCode: "ABCD-EFGH", deviceCode: "dev-1", clientID: "cli", scopes: ["openid", "profile"], expiry: expiry),
    ]
    static let deviceTokens = [
        DeviceToken(deviceCode: "dev-1", status: "complete", token: #"{"access_token":"a"}"#, expiry: expiry,
                    lastRequestTime: now, pollIntervalSeconds: 7),
    ]
}
