import FedgateCore
import Foundation
import Testing
@testable import Storage

/// `RecentReads` on a backend that has it (SQLite, PostgreSQL): `store` and `other` are two
/// handles on the same data (two replicas). An update after a get swaps the row the get read, and
/// a row `other` changed in between is never overwritten. `remembered` reports how many rows
/// `store` holds.
func checkRememberedReads(_ store: some GatewayStorage, _ other: some GatewayStorage,
                          remembered: () -> Int) async throws {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    try await store.createRefreshToken(RefreshToken(id: "r", token: "s1", createdAt: now, lastUsed: now,
                                                    clientID: "c", connectorID: "local",
                                                    claims: Claims(userID: "u", username: "u")))
    // The common case: get, then update; the remembered row is used up.
    _ = try await store.getRefreshToken(id: "r")
    #expect(remembered() == 1)
    try await store.updateRefreshToken(id: "r") { $0.scopes.append("a") }
    #expect(remembered() == 0)
    #expect(try await other.getRefreshToken(id: "r").scopes == ["a"])

    // Another replica changes the row between the get and the update: its write survives.
    _ = try await store.getRefreshToken(id: "r")
    try await other.updateRefreshToken(id: "r") { $0.token = "s2"; $0.scopes.append("b") }
    try await store.updateRefreshToken(id: "r") { $0.scopes.append("c") }
    let after = try await other.getRefreshToken(id: "r")
    #expect(after.scopes == ["a", "b", "c"])
    #expect(after.token == "s2")

    // An updater that refuses the stale remembered row is asked again with the stored one.
    _ = try await store.getRefreshToken(id: "r")
    try await other.updateRefreshToken(id: "r") { $0.token = "s3" }
    try await store.updateRefreshToken(id: "r") { token in
        guard token.token == "s3" else { throw StorageError.conflict }
        token.scopes.append("d")
    }
    #expect(try await other.getRefreshToken(id: "r").scopes == ["a", "b", "c", "d"])

    // A row deleted in between stays deleted.
    _ = try await store.getRefreshToken(id: "r")
    try await other.deleteRefreshToken(id: "r")
    await #expect(throws: StorageError.self) { try await store.updateRefreshToken(id: "r") { $0.scopes.append("e") } }
    await #expect(throws: StorageError.self) { try await other.getRefreshToken(id: "r") }
}
