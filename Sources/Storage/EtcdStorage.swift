import Foundation
import Logging

/// A shared backend over etcd v3 (Dex's `etcd` storage), with Dex's key layout and JSON values
/// under `namespace`, so a Dex deployment's data is readable and the reverse.
///
/// - Create: a transaction `If(CreateRevision(key) == 0) Then(Put)`, so a taken key is never
///   overwritten (`alreadyExists`).
/// - Update: read the value and its `ModRevision`, run the updater, then
///   `If(ModRevision(key) == rev) Then(Put) Else(Get)`. Unlike Dex, which gives up on the first
///   lost race (#1341), a lost race re-runs the updater on the value returned by the `Else`
///   branch, up to `maxAttempts` times, then reports `conflict`. Updates of one key from this
///   process queue first (`KeyedUpdateLock`), so only other replicas can make it lose.
/// - A write whose outcome is unknown (timed out after it was sent) is resolved by reading the
///   key back: our exact bytes mean it landed; an unchanged revision means it did not and it is
///   retried; anything else is reported as `unavailable` rather than guessed.
///
/// Call `close()` when done: it stops the libcurl thread.
public final class EtcdStorage: GatewayStorage {
    /// Compare-and-swap attempts of one update before `StorageError.conflict`. With R replicas
    /// racing fairly on one key an update loses a round with probability (R-1)/R; in practice
    /// rounds are not fair (a replica that just won is often ahead again), and 40 rounds lost an
    /// update once in a CI run of 3 x 150 racing updates, so the bound is 200.
    public static let maxAttempts = 200
    /// Keys read per range request when listing or collecting garbage.
    static let pageSize = 500
    /// Deletes per transaction in garbage collection (etcd's default `--max-txn-ops` is 128).
    static let deleteBatch = 64

    let client: EtcdClient
    let namespace: String
    let logger: Logger
    let updateLock = KeyedUpdateLock()
    /// Lost compare-and-swaps that were retried (tests read it).
    let retries = LockedCounter()

    private init(client: EtcdClient, logger: Logger) {
        self.client = client
        self.namespace = client.options.namespace
        self.logger = logger
    }

    /// Connects and checks that the cluster answers (and that the credentials work).
    public static func open(_ options: EtcdOptions, logger: Logger) async throws -> EtcdStorage {
        let store = EtcdStorage(client: try EtcdClient(options: options, logger: logger), logger: logger)
        do {
            try await store.healthCheck()
        } catch {
            try? await store.close()
            throw error
        }
        logger.info("opened etcd storage", metadata: ["etcd": "\(options.redactedDescription)"])
        return store
    }

    /// A linearizable read of one key: it needs a leader and a quorum, so it fails while the
    /// cluster cannot serve writes either.
    public func healthCheck() async throws {
        _ = try await client.range(.init(key: key(EtcdKeys.keys), count_only: true))
    }

    public func close() async throws { client.close() }

    /// Lost compare-and-swaps that were retried since the store was opened.
    public var retriedUpdates: Int { retries.value }

    // MARK: Keys and values

    func key(_ path: String) -> Data { Data((namespace + path).utf8) }

    /// The end of the range of all keys starting with `prefix` (etcd's `clientv3.GetPrefixRangeEnd`).
    static func prefixEnd(_ prefix: Data) -> Data {
        var bytes = [UInt8](prefix)
        while let last = bytes.last {
            if last < 0xff {
                bytes[bytes.count - 1] = last + 1
                return Data(bytes)
            }
            bytes.removeLast()
        }
        return Data([0]) // every key
    }

    /// One stored value with its revisions.
    struct Stored<Value> {
        let value: Value
        let bytes: Data
        let modRevision: Int64
    }

    func decode<Value: EtcdValue>(_ kv: EtcdMessages.KeyValue) throws -> Stored<Value> {
        let bytes = kv.value ?? Data()
        return Stored(value: try Value.etcdDecode(bytes), bytes: bytes, modRevision: kv.mod_revision?.value ?? 0)
    }

    func read<Value: EtcdValue>(_ path: String, as type: Value.Type) async throws -> Stored<Value>? {
        let response = try await client.range(.init(key: key(path)))
        return try response.kvs?.first.map { try decode($0) }
    }

    // MARK: Operations

    /// A key for messages and logs: its kind, without the id. Ids can be bearer secrets (an
    /// authorization code's id is the code; a device token's is the device code), and errors
    /// reach the logs.
    static func redacted(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return path[...slash] + "…"
    }

    func create<Value: EtcdValue>(_ path: String, _ value: Value) async throws {
        let bytes = try value.etcdEncode()
        let key = key(path)
        let txn = EtcdMessages.TxnRequest(compare: [.created(key, revision: 0)],
                                          success: [.init(request_put: .init(key: key, value: bytes))], failure: [])
        for _ in 0..<Self.maxAttempts {
            do {
                guard try await client.txn(txn).succeeded == true else { throw StorageError.alreadyExists }
                return
            } catch let unknown as EtcdOutcomeUnknown {
                // Did our put land? Our bytes there mean yes; no key means no (send it again).
                guard let current = try await client.range(.init(key: key)).kvs?.first else { continue }
                if current.value == bytes { return }
                throw StorageError.unavailable("etcd: create of \(Self.redacted(path)) may have failed: \(unknown.message)")
            }
        }
        throw StorageError.unavailable("etcd: create of \(Self.redacted(path)) kept timing out")
    }

    func get<Value: EtcdValue>(_ path: String, as type: Value.Type) async throws -> Value {
        guard let stored = try await read(path, as: type) else { throw StorageError.notFound }
        return stored.value
    }

    /// Compare-and-swap update; `keepsKey` checks the updater left the object's identity alone.
    func update<Value: EtcdValue>(_ path: String, as type: Value.Type, createIfMissing: Value? = nil,
                                  keepsKey: @escaping @Sendable (Value) -> Bool = { _ in true },
                                  _ update: @escaping @Sendable (inout Value) throws -> Void) async throws {
        let key = key(path)
        try await updateLock.withLock(path) {
            var current: Stored<Value>? = try await self.read(path, as: type)
            for attempt in 1...Self.maxAttempts {
                var value: Value
                let compare: EtcdMessages.Compare
                if let current {
                    value = current.value
                    compare = .modified(key, revision: current.modRevision)
                } else if let initial = createIfMissing {
                    value = initial
                    compare = .created(key, revision: 0)
                } else {
                    throw StorageError.notFound
                }
                try update(&value)
                guard keepsKey(value) else { throw StorageError.corrupt("an updater must not change the object's key") }
                let bytes = try value.etcdEncode()
                let txn = EtcdMessages.TxnRequest(compare: [compare], success: [.init(request_put: .init(key: key, value: bytes))],
                                                  failure: [.init(request_range: .init(key: key))])
                do {
                    let response = try await self.client.txn(txn)
                    if response.succeeded == true { return }
                    let kv = response.responses?.first?.response_range?.kvs?.first
                    current = try kv.map { try self.decode($0) }
                } catch let unknown as EtcdOutcomeUnknown {
                    let now = try await self.client.range(.init(key: key)).kvs?.first
                    if now?.value == bytes { return }
                    let seen = current?.modRevision ?? 0
                    guard (now?.mod_revision?.value ?? 0) == seen else {
                        throw StorageError.unavailable("etcd: update of \(Self.redacted(path)) may have failed: \(unknown.message)")
                    }
                    continue
                }
                self.retries.increment()
                // Several replicas racing on one key: exponential backoff with full jitter
                // (1, 2, 4, … ms, capped at 64 ms) so they stop colliding in lockstep.
                let cap = UInt64(1) << UInt64(min(attempt - 1, 6))
                try? await Task.sleep(nanoseconds: UInt64.random(in: 0...cap * 1_000_000))
            }
            self.logger.warning("etcd update kept losing its compare-and-swap", metadata: ["key": "\(Self.redacted(path))"])
            throw StorageError.conflict
        }
    }

    func delete(_ path: String) async throws {
        let key = key(path)
        do {
            let response = try await client.deleteRange(.init(key: key))
            guard (response.deleted?.value ?? 0) > 0 else { throw StorageError.notFound }
        } catch is EtcdOutcomeUnknown {
            // Deleting is idempotent in effect: if the key is gone now, it is deleted.
            guard try await client.range(.init(key: key)).kvs?.first == nil else {
                throw StorageError.unavailable("etcd: delete of \(Self.redacted(path)) may have failed")
            }
        }
    }

    /// Every value under `prefix`, read in pages of `pageSize` keys.
    func list<Value: EtcdValue>(_ prefix: String, as type: Value.Type,
                                where include: (Value) -> Bool = { _ in true }) async throws -> [Value] {
        var values: [Value] = []
        try await forEachPage(prefix) { kvs in
            for kv in kvs {
                let stored: Stored<Value> = try self.decode(kv)
                if include(stored.value) { values.append(stored.value) }
            }
        }
        return values
    }

    /// Calls `body` with successive pages of the keys under `prefix`, in key order. Each page is
    /// a separate read, so memory holds one page however large the prefix.
    func forEachPage(_ prefix: String, _ body: ([EtcdMessages.KeyValue]) async throws -> Void) async throws {
        let start = key(prefix)
        let end = Self.prefixEnd(start)
        var from = start
        while true {
            let response = try await client.range(.init(key: from, range_end: end, limit: Int64String(Int64(Self.pageSize))))
            let kvs = response.kvs ?? []
            if !kvs.isEmpty { try await body(kvs) }
            guard response.more == true, let last = kvs.last?.key else { return }
            from = last + Data([0])
        }
    }
}

/// Dex's key layout (`storage/etcd/etcd.go`), relative to the namespace.
enum EtcdKeys {
    static let client = "client/"
    static let authCode = "auth_code/"
    static let refreshToken = "refresh_token/"
    static let authRequest = "auth_req/"
    static let password = "password/"
    static let offlineSession = "offline_session/"
    static let connector = "connector/"
    static let keys = "openid-connect-keys"
    static let deviceRequest = "device_req/"
    static let deviceToken = "device_token/"
    /// Fedgate only.
    static let loginThrottle = "login_throttle/"

    /// Dex's `keySession`: the lower-cased `userID|connID`.
    static func offlineSession(userID: String, connectorID: String) -> String {
        offlineSession + (userID + "|" + connectorID).lowercased()
    }

    static func password(email: String) -> String { password + email.lowercased() }
}
