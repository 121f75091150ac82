import Foundation
import Storage

/// Create, get, update, list and delete of every object type.
enum CRUDCases {
    static let all: [ConformanceCase] = [
        ConformanceCase("ClientCRUD", store: clients),
        ConformanceCase("AuthRequestCRUD", store: authRequests),
        ConformanceCase("AuthCodeCRUD", store: authCodes),
        ConformanceCase("RefreshTokenCRUD", store: refreshTokens),
        ConformanceCase("OfflineSessionCRUD", store: offlineSessions),
        ConformanceCase("PasswordCRUD", store: passwords),
        ConformanceCase("ConnectorCRUD", store: connectors),
        ConformanceCase("DeviceRequestCRUD", store: deviceRequests),
        ConformanceCase("DeviceTokenCRUD", store: deviceTokens),
        ConformanceCase("LoginThrottleCRUD", store: loginThrottles),
        ConformanceCase("KeysRoundTrip", store: keys),
        ConformanceCase("UpdateKeepsKey", store: updateKeepsKey),
        ConformanceCase("HealthCheck", store: { try await $0.healthCheck() }),
    ]

    static func loginThrottles(_ s: any GatewayStorage) async throws {
        let now = Fixtures.now()
        try await CRUDSpec<LoginThrottle>(
            make: { LoginThrottle(key: $0, failures: 2, windowStart: now, lockedUntil: nil, expiry: now.addingTimeInterval(900)) },
            create: s.createLoginThrottle, get: { try await s.getLoginThrottle(key: $0) },
            update: { try await s.updateLoginThrottle(key: $0, $1) },
            mutate: { $0.failures += 1; $0.lockedUntil = now.addingTimeInterval(30.5) },
            delete: { try await s.deleteLoginThrottle(key: $0) }
        ).run()
    }

    static func clients(_ s: any GatewayStorage) async throws {
        try await CRUDSpec<Client>(
            make: Fixtures.client, create: s.createClient, get: { try await s.getClient(id: $0) },
            update: { try await s.updateClient(id: $0, $1) },
            mutate: { $0.secret = "rotated"; $0.redirectURIs.append("https://new.example/cb"); $0.isPublic = true },
            delete: { try await s.deleteClient(id: $0) }, list: s.listClients
        ).run()
    }

    static func authRequests(_ s: any GatewayStorage) async throws {
        let expiry = Fixtures.now().addingTimeInterval(600)
        try await CRUDSpec<AuthRequest>(
            make: { Fixtures.authRequest($0, expiry: expiry) }, create: s.createAuthRequest,
            get: { try await s.getAuthRequest(id: $0) }, update: { try await s.updateAuthRequest(id: $0, $1) },
            mutate: { $0.loggedIn = false; $0.claims = nil; $0.maxAge = nil; $0.expiry.addTimeInterval(0.125) },
            delete: { try await s.deleteAuthRequest(id: $0) }
        ).run()
    }

    static func authCodes(_ s: any GatewayStorage) async throws {
        let expiry = Fixtures.now().addingTimeInterval(60)
        try await CRUDSpec<AuthCode>(
            make: { Fixtures.authCode($0, expiry: expiry) }, create: s.createAuthCode,
            get: { try await s.getAuthCode(id: $0) }, delete: { try await s.deleteAuthCode(id: $0) }
        ).run()
    }

    static func refreshTokens(_ s: any GatewayStorage) async throws {
        let created = Fixtures.now()
        try await CRUDSpec<RefreshToken>(
            make: { Fixtures.refreshToken($0, createdAt: created) }, create: s.createRefreshToken,
            get: { try await s.getRefreshToken(id: $0) }, update: { try await s.updateRefreshToken(id: $0, $1) },
            mutate: { $0.obsoleteToken = $0.token; $0.token = "rotated"; $0.lastUsed.addTimeInterval(42.5) },
            delete: { try await s.deleteRefreshToken(id: $0) }, list: s.listRefreshTokens
        ).run()
    }

    static func offlineSessions(_ s: any GatewayStorage) async throws {
        let now = Fixtures.now()
        // The key is (userID, connectorID); the spec's key string is the user ID.
        try await CRUDSpec<OfflineSession>(
            make: { Fixtures.offlineSession(userID: $0, connectorID: "ldap", refreshIDs: ["r1", "r2"], at: now) },
            create: s.createOfflineSession,
            get: { try await s.getOfflineSession(userID: $0, connectorID: "ldap") },
            update: { try await s.updateOfflineSession(userID: $0, connectorID: "ldap", $1) },
            mutate: { $0.refresh["r1"] = nil; $0.connectorData = nil },
            delete: { try await s.deleteOfflineSession(userID: $0, connectorID: "ldap") },
            list: { try await s.listOfflineSessions(userID: "crud-a") + s.listOfflineSessions(userID: "crud-b") }
        ).run()

        // Same user, other connectors: distinct sessions, listed per user.
        let github = Fixtures.offlineSession(userID: "crud-b", connectorID: "github", refreshIDs: ["r9"], at: now)
        try await s.createOfflineSession(github)
        try expectEqual(try await s.getOfflineSession(userID: "crud-b", connectorID: "github"), github, "second connector")
        try expectEqual(try await s.listOfflineSessions(userID: "crud-b").map(\.connectorID).sorted(), ["github", "ldap"],
                        "sessions of one user")
        try expectEqual(try await s.listOfflineSessions(userID: "nobody"), [], "sessions of an unknown user")
        try await expectError(.notFound, "session of another connector") {
            _ = try await s.getOfflineSession(userID: "crud-b", connectorID: "saml")
        }
    }

    static func passwords(_ s: any GatewayStorage) async throws {
        try await CRUDSpec<Password>(
            make: { Fixtures.password("\($0)@example.com") }, create: s.createPassword,
            get: { try await s.getPassword(email: "\($0)@example.com") },
            update: { try await s.updatePassword(email: "\($0)@example.com", $1) },
            mutate: { $0.hash = "$2a$10$rotated"; $0.groups = [] },
            delete: { try await s.deletePassword(email: "\($0)@example.com") }, list: s.listPasswords
        ).run()

        // Emails are keys without regard to case (Dex lower-cases them).
        try await s.createPassword(Fixtures.password("Mixed.Case@Example.COM"))
        let stored = try await s.getPassword(email: "MIXED.case@example.com")
        try expectEqual(stored.email, "mixed.case@example.com", "stored email is lower-cased")
        try await expectError(.alreadyExists, "create differing only in case") {
            try await s.createPassword(Fixtures.password("mixed.case@example.com"))
        }
        try await s.updatePassword(email: "MIXED.CASE@EXAMPLE.COM") { $0.name = "Renamed" }
        try expectEqual(try await s.getPassword(email: "mixed.case@example.com").name, "Renamed", "update by other case")
        try await s.deletePassword(email: "Mixed.Case@example.com")
        try await expectError(.notFound, "get after delete by other case") {
            _ = try await s.getPassword(email: "mixed.case@example.com")
        }
    }

    static func connectors(_ s: any GatewayStorage) async throws {
        try await CRUDSpec<ConnectorRecord>(
            make: Fixtures.connector, create: s.createConnector, get: { try await s.getConnector(id: $0) },
            update: { try await s.updateConnector(id: $0, $1) },
            mutate: { $0.resourceVersion = "2"; $0.config = Data(#"{"issuer":"https://other.example"}"#.utf8) },
            delete: { try await s.deleteConnector(id: $0) }, list: s.listConnectors
        ).run()
    }

    static func deviceRequests(_ s: any GatewayStorage) async throws {
        let expiry = Fixtures.now().addingTimeInterval(300)
        try await CRUDSpec<DeviceRequest>(
            make: { Fixtures.deviceRequest($0, expiry: expiry) }, create: s.createDeviceRequest,
            get: { try await s.getDeviceRequest(userCode: $0) }
        ).run()
    }

    static func deviceTokens(_ s: any GatewayStorage) async throws {
        let expiry = Fixtures.now().addingTimeInterval(300)
        try await CRUDSpec<DeviceToken>(
            make: { Fixtures.deviceToken($0, expiry: expiry) }, create: s.createDeviceToken,
            get: { try await s.getDeviceToken(deviceCode: $0) },
            update: { try await s.updateDeviceToken(deviceCode: $0, $1) },
            mutate: { $0.status = "complete"; $0.token = #"{"id_token":"x"}"#; $0.lastRequestTime.addTimeInterval(5) }
        ).run()
    }

    static func keys(_ s: any GatewayStorage) async throws {
        try expectEqual(try await s.getKeys(), Keys(), "keys of an empty store")
        let keys = Fixtures.keys(at: Fixtures.now())
        try await s.updateKeys { $0 = keys }
        try expectEqual(try await s.getKeys(), keys, "keys after the first update")

        try await expectAbort("a keys updater that throws") {
            try await s.updateKeys { current in
                current.signingKey = nil
                throw UpdaterAbort()
            }
        }
        try expectEqual(try await s.getKeys(), keys, "keys after an updater threw")

        // Rotation as the signer does it: the next key signs, the old one becomes a verification key.
        try await s.updateKeys { current in
            guard let old = current.signingKey else { return }
            current.verificationKeys.append(VerificationKey(kid: old.kid, publicJWK: old.publicJWK,
                                                            expiry: current.nextRotation))
            current.signingKey = current.nextSigningKey
            current.nextSigningKey = nil
            current.nextRotation.addTimeInterval(6 * 3600)
        }
        let rotated = try await s.getKeys()
        try expectEqual(rotated.signingKey?.kid, "kid-2", "signing key after rotation")
        try expectEqual(rotated.verificationKeys.map(\.kid), ["kid-0", "kid-1"], "verification keys after rotation")
        try expectEqual(rotated.nextRotation, keys.nextRotation.addingTimeInterval(6 * 3600), "next rotation")
    }

    /// An updater may not move an object to another key; the stored object stays as it was.
    static func updateKeepsKey(_ s: any GatewayStorage) async throws {
        let client = Fixtures.client("keep-key")
        try await s.createClient(client)
        do {
            try await s.updateClient(id: "keep-key") { $0.id = "moved"; $0.name = "Moved" }
            throw ConformanceFailure("an updater that changed the ID was accepted")
        } catch let error as StorageError {
            try expect(!error.isNotFound && !error.isAlreadyExists, "unexpected error for a changed ID: \(error)")
        }
        try expectEqual(try await s.getClient(id: "keep-key"), client, "object after a rejected key change")
        try await expectError(.notFound, "no object under the new key") { _ = try await s.getClient(id: "moved") }
    }
}
