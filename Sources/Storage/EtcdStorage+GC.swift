import Foundation

/// Garbage collection in pages (fixes Dex #4979 for etcd as well).
///
/// etcd has no secondary index on expiry, so each prefix is scanned `pageSize` keys at a time
/// (one range request each; memory holds one page), and the expired keys of a page are deleted in
/// transactions of `deleteBatch`, each delete guarded by the `ModRevision` we read: an object
/// another replica updated meanwhile (an auth request that was just extended) is left alone.
/// Refresh tokens the policy says are dead go the same way; the offline sessions are then
/// scanned once to drop references to them and delete sessions left empty.
extension EtcdStorage {
    public func garbageCollect(now: Date, refreshPolicy: RefreshExpiryPolicy) async throws -> GarbageCollectionResult {
        var result = GarbageCollectionResult()
        result.authRequests = try await collect(EtcdKeys.authRequest, as: AuthRequest.self) { $0.expiry < now }.count
        result.authCodes = try await collect(EtcdKeys.authCode, as: AuthCode.self) { $0.expiry < now }.count
        result.deviceRequests = try await collect(EtcdKeys.deviceRequest, as: DeviceRequest.self) { $0.expiry < now }.count
        result.deviceTokens = try await collect(EtcdKeys.deviceToken, as: DeviceToken.self) { $0.expiry < now }.count
        result.loginThrottles = try await collect(EtcdKeys.loginThrottle, as: LoginThrottle.self) { $0.expiry < now }.count

        guard refreshPolicy.absoluteLifetime > 0 || refreshPolicy.validIfNotUsedFor > 0 else { return result }
        let dead = try await collect(EtcdKeys.refreshToken, as: RefreshToken.self) { refreshPolicy.isExpired($0, now: now) }
        result.refreshTokens = dead.count
        if !dead.isEmpty { result.offlineSessions = try await pruneSessions(referencing: dead) }
        return result
    }

    /// Deletes the values under `prefix` that `isDead` selects; returns the IDs (key suffixes) deleted.
    private func collect<Value: EtcdValue>(_ prefix: String, as type: Value.Type,
                                           _ isDead: @escaping (Value) -> Bool) async throws -> Set<String> {
        var deleted = Set<String>()
        let prefixLength = key(prefix).count
        try await forEachPage(prefix) { kvs in
            var doomed: [(key: Data, revision: Int64)] = []
            for kv in kvs {
                guard let key = kv.key, let revision = kv.mod_revision?.value else { continue }
                let stored: Stored<Value>
                do {
                    stored = try self.decode(kv)
                } catch {
                    self.logger.warning("garbage collection skipped an unreadable value",
                                        metadata: ["key": "\(Self.redacted(String(decoding: key, as: UTF8.self)))"])
                    continue
                }
                if isDead(stored.value) { doomed.append((key, revision)) }
            }
            var start = doomed.startIndex
            while start < doomed.endIndex {
                let batch = doomed[start..<min(start + Self.deleteBatch, doomed.endIndex)]
                start = batch.endIndex
                for key in try await self.deleteGuarded(Array(batch)) {
                    deleted.insert(String(decoding: key.dropFirst(prefixLength), as: UTF8.self))
                }
            }
        }
        return deleted
    }

    /// Deletes each key if it still has the revision we read; returns the keys deleted. One
    /// transaction for the batch; if any key changed, falls back to one transaction per key.
    private func deleteGuarded(_ batch: [(key: Data, revision: Int64)]) async throws -> [Data] {
        func txn(_ items: ArraySlice<(key: Data, revision: Int64)>) -> EtcdMessages.TxnRequest {
            EtcdMessages.TxnRequest(compare: items.map { .modified($0.key, revision: $0.revision) },
                                    success: items.map { .init(request_delete_range: .init(key: $0.key)) }, failure: [])
        }
        if try await guardedTxn(txn(batch[...])) { return batch.map(\.key) }
        var deleted: [Data] = []
        for item in batch where try await guardedTxn(txn([item][...])) { deleted.append(item.key) }
        return deleted
    }

    /// Runs a guarded delete; an unknown outcome counts as not deleted (the next pass sees it).
    private func guardedTxn(_ request: EtcdMessages.TxnRequest) async throws -> Bool {
        do {
            return try await client.txn(request).succeeded == true
        } catch is EtcdOutcomeUnknown {
            return false
        }
    }

    /// Drops references to collected refresh tokens from every offline session; returns how many
    /// sessions were left with none and deleted.
    private func pruneSessions(referencing dead: Set<String>) async throws -> Int {
        var affected: [(userID: String, connectorID: String)] = []
        try await forEachPage(EtcdKeys.offlineSession) { kvs in
            for kv in kvs {
                guard let stored: Stored<OfflineSession> = try? self.decode(kv) else { continue }
                if stored.value.refresh.values.contains(where: { dead.contains($0.id) }) {
                    affected.append((stored.value.userID, stored.value.connectorID))
                }
            }
        }
        var removed = 0
        for session in affected {
            let emptied = LockedFlag()
            do {
                try await updateOfflineSession(userID: session.userID, connectorID: session.connectorID) { value in
                    value.refresh = value.refresh.filter { !dead.contains($0.value.id) }
                    if value.refresh.isEmpty { _ = emptied.set() }
                }
            } catch let error as StorageError where error.isNotFound {
                continue
            }
            guard emptied.value else { continue }
            // Delete only if still empty: a login may have added a token since.
            let path = EtcdKeys.offlineSession(userID: session.userID, connectorID: session.connectorID)
            if let current = try await read(path, as: OfflineSession.self), current.value.refresh.isEmpty,
               try await guardedTxn(.init(compare: [.modified(key(path), revision: current.modRevision)],
                                          success: [.init(request_delete_range: .init(key: key(path)))], failure: [])) {
                removed += 1
            }
        }
        return removed
    }
}
