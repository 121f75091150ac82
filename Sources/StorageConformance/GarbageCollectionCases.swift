import Foundation
import Storage

/// Garbage collection: what is removed, what stays, and that the counts are right.
enum GarbageCollectionCases {
    static let all: [ConformanceCase] = [
        ConformanceCase("GarbageCollectionExpiry", store: expiry),
        ConformanceCase("GarbageCollectionRefreshTokens", store: refreshTokens),
        ConformanceCase("GarbageCollectionPaging", store: paging),
        ConformanceCase("GarbageCollectionFollowsUpdates", store: followsUpdates),
    ]

    /// Objects with an expiry are removed once it has passed; the rest stay.
    static func expiry(_ s: any GatewayStorage) async throws {
        let now = Fixtures.now()
        let past = now.addingTimeInterval(-1)
        let future = now.addingTimeInterval(60)
        try await s.createAuthRequest(Fixtures.authRequest("ar-old", expiry: past))
        try await s.createAuthRequest(Fixtures.authRequest("ar-new", expiry: future))
        try await s.createAuthCode(Fixtures.authCode("ac-old", expiry: past))
        try await s.createAuthCode(Fixtures.authCode("ac-new", expiry: future))
        try await s.createDeviceRequest(Fixtures.deviceRequest("dr-old", expiry: past))
        try await s.createDeviceRequest(Fixtures.deviceRequest("dr-new", expiry: future))
        try await s.createDeviceToken(Fixtures.deviceToken("dt-old", expiry: past))
        try await s.createDeviceToken(Fixtures.deviceToken("dt-new", expiry: future))
        try await s.createLoginThrottle(LoginThrottle(key: "lt-old", windowStart: past, expiry: past))
        try await s.createLoginThrottle(LoginThrottle(key: "lt-new", windowStart: now, expiry: future))
        // Refresh tokens are untouched when the policy sets no limit (Dex never collects them).
        try await s.createRefreshToken(Fixtures.refreshToken("rt-ancient", createdAt: now.addingTimeInterval(-86400 * 365)))

        // Expiry exactly at `now` is not yet expired.
        try await s.createAuthRequest(Fixtures.authRequest("ar-edge", expiry: now))

        let result = try await s.garbageCollect(now: now, refreshPolicy: RefreshExpiryPolicy())
        var expected = GarbageCollectionResult()
        expected.authRequests = 1; expected.authCodes = 1; expected.deviceRequests = 1; expected.deviceTokens = 1
        expected.loginThrottles = 1
        try expectEqual(result, expected, "first collection")

        try await expectError(.notFound, "expired auth request") { _ = try await s.getAuthRequest(id: "ar-old") }
        try await expectError(.notFound, "expired auth code") { _ = try await s.getAuthCode(id: "ac-old") }
        try await expectError(.notFound, "expired device request") { _ = try await s.getDeviceRequest(userCode: "dr-old") }
        try await expectError(.notFound, "expired device token") { _ = try await s.getDeviceToken(deviceCode: "dt-old") }
        try await expectError(.notFound, "expired login throttle") { _ = try await s.getLoginThrottle(key: "lt-old") }
        _ = try await s.getLoginThrottle(key: "lt-new")
        _ = try await s.getAuthRequest(id: "ar-new")
        _ = try await s.getAuthRequest(id: "ar-edge")
        _ = try await s.getAuthCode(id: "ac-new")
        _ = try await s.getDeviceRequest(userCode: "dr-new")
        _ = try await s.getDeviceToken(deviceCode: "dt-new")
        _ = try await s.getRefreshToken(id: "rt-ancient")

        let again = try await s.garbageCollect(now: now, refreshPolicy: RefreshExpiryPolicy())
        try expectEqual(again.total, 0, "second collection at the same time")

        let later = try await s.garbageCollect(now: future.addingTimeInterval(1), refreshPolicy: RefreshExpiryPolicy())
        try expectEqual(later.authRequests, 2, "auth requests collected later")
        try expectEqual(later.total, 6, "everything collected later")
    }

    /// Refresh tokens expired by the policy go; sessions keep their other tokens or go when empty.
    static func refreshTokens(_ s: any GatewayStorage) async throws {
        let now = Fixtures.now()
        let policy = RefreshExpiryPolicy(absoluteLifetime: 86400, validIfNotUsedFor: 3600)
        let old = Fixtures.refreshToken("rt-too-old", createdAt: now.addingTimeInterval(-2 * 86400),
                                        lastUsed: now.addingTimeInterval(-60))
        let idle = Fixtures.refreshToken("rt-idle", createdAt: now.addingTimeInterval(-7200),
                                         lastUsed: now.addingTimeInterval(-7200), userID: "user-2")
        let live = Fixtures.refreshToken("rt-live", createdAt: now.addingTimeInterval(-600),
                                         lastUsed: now.addingTimeInterval(-60))
        for token in [old, idle, live] { try await s.createRefreshToken(token) }
        try await s.createOfflineSession(Fixtures.offlineSession(userID: "user-1", connectorID: "ldap",
                                                                 refreshIDs: ["rt-too-old", "rt-live"], at: now))
        try await s.createOfflineSession(Fixtures.offlineSession(userID: "user-2", connectorID: "ldap",
                                                                 refreshIDs: ["rt-idle"], at: now))
        try expect(policy.isExpired(old, now: now) && policy.isExpired(idle, now: now) && !policy.isExpired(live, now: now),
                   "fixture expiry")

        let result = try await s.garbageCollect(now: now, refreshPolicy: policy)
        try expectEqual(result.refreshTokens, 2, "refresh tokens collected")
        try expectEqual(result.offlineSessions, 1, "offline sessions collected")
        try expectEqual(result.total, 3, "total collected")

        try expectEqual(try await s.listRefreshTokens().map(\.id), ["rt-live"], "refresh tokens left")
        let kept = try await s.getOfflineSession(userID: "user-1", connectorID: "ldap")
        try expectEqual(Array(kept.refresh.keys), ["rt-live"], "refs left in the kept session")
        try expectEqual(kept.connectorData, Data("session".utf8), "kept session's connector data")
        try await expectError(.notFound, "session with no refresh token left") {
            _ = try await s.getOfflineSession(userID: "user-2", connectorID: "ldap")
        }
        try expectEqual(try await s.garbageCollect(now: now, refreshPolicy: policy).total, 0, "second collection")

        // The kept session's bookkeeping still follows later updates: once its last token expires, it goes too.
        let result2 = try await s.garbageCollect(now: now.addingTimeInterval(2 * 3600), refreshPolicy: policy)
        try expectEqual(result2.refreshTokens, 1, "last token collected later")
        try expectEqual(result2.offlineSessions, 1, "last session collected later")
    }

    /// A backlog larger than any page size is removed completely in one call.
    static func paging(_ s: any GatewayStorage) async throws {
        let now = Fixtures.now()
        let count = 1_203
        let past = now.addingTimeInterval(-10)
        for index in 0..<count {
            try await s.createAuthRequest(Fixtures.authRequest("page-\(index)", expiry: past))
        }
        try await s.createAuthRequest(Fixtures.authRequest("page-live", expiry: now.addingTimeInterval(10)))
        let policy = RefreshExpiryPolicy(validIfNotUsedFor: 60)
        for index in 0..<(count / 2) {
            try await s.createRefreshToken(Fixtures.refreshToken("rt-\(index)", createdAt: past.addingTimeInterval(-60)))
        }
        let result = try await s.garbageCollect(now: now, refreshPolicy: policy)
        try expectEqual(result.authRequests, count, "auth requests collected")
        try expectEqual(result.refreshTokens, count / 2, "refresh tokens collected")
        _ = try await s.getAuthRequest(id: "page-live")
        try expectEqual(try await s.listRefreshTokens().count, 0, "refresh tokens left")
    }

    /// Collection sees a token's times as its last update left them: a refresh (new `lastUsed`)
    /// saves an idle token, and an update that leaves `createdAt` alone keeps the absolute limit.
    static func followsUpdates(_ s: any GatewayStorage) async throws {
        let now = Fixtures.now()
        let policy = RefreshExpiryPolicy(absoluteLifetime: 86400, validIfNotUsedFor: 3600)
        try await s.createRefreshToken(Fixtures.refreshToken("rt-used", createdAt: now.addingTimeInterval(-7200),
                                                             lastUsed: now.addingTimeInterval(-7200)))
        try await s.createRefreshToken(Fixtures.refreshToken("rt-aged", createdAt: now.addingTimeInterval(-86000),
                                                             lastUsed: now.addingTimeInterval(-60)))
        _ = try await s.getRefreshToken(id: "rt-used")  // a grant reads, then rotates
        try await s.updateRefreshToken(id: "rt-used") { $0.lastUsed = now; $0.token = "rotated" }
        try await s.updateRefreshToken(id: "rt-aged") { $0.lastUsed = now; $0.token = "rotated" }
        try expectEqual(try await s.garbageCollect(now: now, refreshPolicy: policy).refreshTokens, 0, "nothing idle or too old")
        let later = try await s.garbageCollect(now: now.addingTimeInterval(600), refreshPolicy: policy)
        try expectEqual(later.refreshTokens, 1, "the aged token reaches its absolute lifetime")
        try expectEqual(try await s.listRefreshTokens().map(\.id), ["rt-used"], "the refreshed token is kept")
    }
}
