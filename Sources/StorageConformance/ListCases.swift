import Foundation
import Storage

/// Listing every object type (`StorageReader`), which `fedgate storage copy` relies on to move
/// a whole store: every object comes back exactly once, whole, sorted by key, deleted ones gone,
/// and stores larger than one read page are listed completely.
enum ListCases {
    static let all: [ConformanceCase] = [
        ConformanceCase("ListEmptyStore", store: empty),
        ConformanceCase("ListShortLivedObjects", store: shortLived),
        ConformanceCase("ListAllOfflineSessions", store: offlineSessions),
        ConformanceCase("ListAcrossPages", store: acrossPages),
    ]

    static func empty(_ s: any GatewayStorage) async throws {
        try expectEqual(try await s.listAuthRequests(), [], "auth requests of an empty store")
        try expectEqual(try await s.listAuthCodes(), [], "auth codes of an empty store")
        try expectEqual(try await s.listDeviceRequests(), [], "device requests of an empty store")
        try expectEqual(try await s.listDeviceTokens(), [], "device tokens of an empty store")
        try expectEqual(try await s.listLoginThrottles(), [], "login throttles of an empty store")
        try expectEqual(try await s.listOfflineSessions(), [], "offline sessions of an empty store")
    }

    /// Auth requests, codes, device requests and tokens and login throttles, created out of key
    /// order, come back whole and sorted; a deleted or updated one is listed as it now is.
    static func shortLived(_ s: any GatewayStorage) async throws {
        let now = Fixtures.now()
        let expiry = now.addingTimeInterval(600)
        let keys = ["list-b", "list-c", "list-a"]

        let requests = keys.map { Fixtures.authRequest($0, expiry: expiry) }
        for request in requests { try await s.createAuthRequest(request) }
        try expectEqual(try await s.listAuthRequests(), requests.sorted { $0.id < $1.id }, "auth requests")
        try await s.deleteAuthRequest(id: "list-c")
        try await s.updateAuthRequest(id: "list-a") { $0.loggedIn = false; $0.claims = nil }
        var expectedRequests = requests.filter { $0.id != "list-c" }.sorted { $0.id < $1.id }
        expectedRequests[0].loggedIn = false
        expectedRequests[0].claims = nil
        try expectEqual(try await s.listAuthRequests(), expectedRequests, "auth requests after a delete and an update")

        let codes = keys.map { Fixtures.authCode($0, expiry: expiry) }
        for code in codes { try await s.createAuthCode(code) }
        try expectEqual(try await s.listAuthCodes(), codes.sorted { $0.id < $1.id }, "auth codes")
        try await s.deleteAuthCode(id: "list-a")
        try expectEqual(try await s.listAuthCodes().map(\.id), ["list-b", "list-c"], "auth codes after a delete")

        let deviceRequests = keys.map { Fixtures.deviceRequest($0, expiry: expiry) }
        for request in deviceRequests { try await s.createDeviceRequest(request) }
        try expectEqual(try await s.listDeviceRequests(), deviceRequests.sorted { $0.userCode < $1.userCode },
                        "device requests")

        let deviceTokens = keys.map { Fixtures.deviceToken($0, expiry: expiry) }
        for token in deviceTokens { try await s.createDeviceToken(token) }
        try await s.updateDeviceToken(deviceCode: "list-b") { $0.status = "complete"; $0.token = #"{"id_token":"x"}"# }
        var expectedTokens = deviceTokens.sorted { $0.deviceCode < $1.deviceCode }
        expectedTokens[1].status = "complete"
        expectedTokens[1].token = #"{"id_token":"x"}"#
        try expectEqual(try await s.listDeviceTokens(), expectedTokens, "device tokens")

        let throttles = ["user:local:b", "ip:127.0.0.1", "user:local:a"].map {
            LoginThrottle(key: $0, failures: 3, windowStart: now, lockedUntil: now.addingTimeInterval(30), expiry: expiry)
        }
        for throttle in throttles { try await s.createLoginThrottle(throttle) }
        try expectEqual(try await s.listLoginThrottles(), throttles.sorted { $0.key < $1.key }, "login throttles")
        try await s.deleteLoginThrottle(key: "ip:127.0.0.1")
        try expectEqual(try await s.listLoginThrottles().map(\.key), ["user:local:a", "user:local:b"],
                        "login throttles after a delete")
    }

    /// Every session of every user and connector, sorted by (userID, connectorID), including
    /// user IDs that differ only in case (etcd's keys are lower-cased; the listing must not merge them).
    static func offlineSessions(_ s: any GatewayStorage) async throws {
        let now = Fixtures.now()
        let sessions = [
            Fixtures.offlineSession(userID: "user-b", connectorID: "ldap", refreshIDs: ["r1"], at: now),
            Fixtures.offlineSession(userID: "user-a", connectorID: "ldap", refreshIDs: ["r2", "r3"], at: now),
            Fixtures.offlineSession(userID: "user-a", connectorID: "github", refreshIDs: [], at: now),
            Fixtures.offlineSession(userID: "User-C", connectorID: "ldap", refreshIDs: ["r4"], at: now),
        ]
        for session in sessions { try await s.createOfflineSession(session) }
        let expected = sessions.sorted { ($0.userID, $0.connectorID) < ($1.userID, $1.connectorID) }
        try expectEqual(try await s.listOfflineSessions(), expected, "every offline session")

        try await s.updateOfflineSession(userID: "user-a", connectorID: "ldap") { $0.refresh["r2"] = nil }
        try await s.deleteOfflineSession(userID: "user-b", connectorID: "ldap")
        let listed = try await s.listOfflineSessions()
        try expectEqual(listed.map { "\($0.userID)/\($0.connectorID)" }, ["User-C/ldap", "user-a/github", "user-a/ldap"],
                        "sessions after a delete")
        try expectEqual(listed.last?.refresh.keys.sorted(), ["r3"], "an updated session is listed as updated")
    }

    /// More objects than one read page of any backend (etcd and the SQL reader page by 500),
    /// so a listing that stopped after the first page, or repeated a key at a page boundary, fails.
    static func acrossPages(_ s: any GatewayStorage) async throws {
        let now = Fixtures.now()
        let count = 1_234
        let expiry = now.addingTimeInterval(900)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for index in stride(from: worker, to: count, by: 8) {
                        try await s.createLoginThrottle(LoginThrottle(key: String(format: "page-%05d", index), failures: index,
                                                                      windowStart: now, expiry: expiry))
                    }
                }
            }
            try await group.waitForAll()
        }
        let listed = try await s.listLoginThrottles()
        try expectEqual(listed.count, count, "throttles listed")
        try expectEqual(listed.map(\.key), (0..<count).map { String(format: "page-%05d", $0) }, "keys in order, each once")
        try expect(listed.allSatisfy { $0.key == String(format: "page-%05d", $0.failures) }, "each body matches its key")
    }
}
