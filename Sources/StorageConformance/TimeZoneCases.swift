import Foundation
import Storage

/// Times survive storage unchanged whatever zone they were built in (Dex's `TimezoneSupport`).
///
/// The suite cannot safely change the process's `TZ` (tests run in parallel in one process),
/// so it builds instants from wall-clock times in zones far from UTC (Kolkata +05:30, Kiritimati
/// +14:00, Pago Pago -11:00) and checks that they round-trip exactly and compare correctly.
/// A backend that stored local wall-clock time, or parsed stored time as local, fails here.
enum TimeZoneCases {
    static let all: [ConformanceCase] = [
        ConformanceCase("TimeZoneRoundTrip", store: roundTrip),
        ConformanceCase("TimeZoneExpiryComparison", store: expiryComparison),
    ]

    static let zones = ["Asia/Kolkata", "Pacific/Kiritimati", "Pacific/Pago_Pago"]

    /// A wall-clock time in `zone`, as an instant (milliseconds set, so precision is tested too).
    static func instant(_ zone: String, year: Int, month: Int, day: Int, hour: Int, minute: Int, ms: Int) throws -> Date {
        var calendar = Calendar(identifier: .gregorian)
        guard let timeZone = TimeZone(identifier: zone) else { throw ConformanceFailure("unknown time zone \(zone)") }
        calendar.timeZone = timeZone
        let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute,
                                        second: 30, nanosecond: ms * 1_000_000)
        guard let date = calendar.date(from: components) else { throw ConformanceFailure("invalid date in \(zone)") }
        return Fixtures.ms(date)
    }

    static func roundTrip(_ s: any GatewayStorage) async throws {
        for (index, zone) in zones.enumerated() {
            // Just before local midnight on New Year's Eve: a different UTC day (and year) in most zones.
            let expiry = try instant(zone, year: 2031, month: 12, day: 31, hour: 23, minute: 59, ms: 123 + index)
            let request = Fixtures.authRequest("tz-\(index)", expiry: expiry)
            try await s.createAuthRequest(request)
            let read = try await s.getAuthRequest(id: "tz-\(index)")
            try expectEqual(read.expiry, expiry, "expiry built in \(zone)")
            try expectEqual(read.authTime, request.authTime, "auth time built in \(zone)")

            let token = Fixtures.refreshToken("tz-\(index)", createdAt: expiry, lastUsed: Fixtures.ms(expiry.addingTimeInterval(0.001)))
            try await s.createRefreshToken(token)
            try expectEqual(try await s.getRefreshToken(id: "tz-\(index)"), token, "refresh token built in \(zone)")
        }
    }

    /// Expiries a few seconds apart across zones; only those before `now` are collected.
    static func expiryComparison(_ s: any GatewayStorage) async throws {
        // The same instant, written as wall-clock time in three zones.
        let kolkata = try instant("Asia/Kolkata", year: 2030, month: 6, day: 1, hour: 5, minute: 30, ms: 0)
        let kiritimati = try instant("Pacific/Kiritimati", year: 2030, month: 6, day: 1, hour: 14, minute: 0, ms: 0)
        let pagoPago = try instant("Pacific/Pago_Pago", year: 2030, month: 5, day: 31, hour: 13, minute: 0, ms: 0)
        try expectEqual(kiritimati, kolkata, "same instant from Kiritimati")
        try expectEqual(pagoPago, kolkata, "same instant from Pago Pago")

        try await s.createAuthRequest(Fixtures.authRequest("tz-before", expiry: kolkata.addingTimeInterval(-0.5)))
        try await s.createAuthRequest(Fixtures.authRequest("tz-at", expiry: kiritimati))
        try await s.createAuthRequest(Fixtures.authRequest("tz-after", expiry: pagoPago.addingTimeInterval(0.5)))
        let result = try await s.garbageCollect(now: kolkata, refreshPolicy: RefreshExpiryPolicy())
        try expectEqual(result.authRequests, 1, "requests expired before the instant")
        try await expectError(.notFound, "request that expired half a second earlier") {
            _ = try await s.getAuthRequest(id: "tz-before")
        }
        _ = try await s.getAuthRequest(id: "tz-at")
        _ = try await s.getAuthRequest(id: "tz-after")
    }
}
