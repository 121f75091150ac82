import Foundation

/// How to reach etcd: Dex's `storage.config` for `type: etcd` (`storage/etcd/config.go`).
public struct EtcdOptions: Sendable, Equatable {
    /// Client URLs (`http://127.0.0.1:2379`, `https://etcd-0:2379`). Requests go to one endpoint
    /// and fail over to the next when it is unreachable or has no leader.
    public var endpoints: [String]
    /// A prefix prepended to every key (`dex/`), so several deployments can share a cluster.
    public var namespace: String
    /// etcd user for the auth API; empty means etcd auth is off.
    public var username: String
    public var password: String
    /// Name the server certificate must carry, when it differs from the endpoint's host (Dex `ssl.serverName`).
    public var serverName: String?
    /// CA bundle (PEM) for `https` endpoints; the system roots when nil.
    public var caFile: String?
    /// Client certificate and key (PEM) for etcd's `--client-cert-auth`.
    public var certFile: String?
    public var keyFile: String?
    /// Deadline of one request (Dex's `defaultStorageTimeout` is 5 s).
    public var requestTimeout: TimeInterval
    /// Deadline for opening a connection to one endpoint before trying the next.
    public var dialTimeout: TimeInterval

    public init(endpoints: [String], namespace: String = "", username: String = "", password: String = "",
                serverName: String? = nil, caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil,
                requestTimeout: TimeInterval = 5, dialTimeout: TimeInterval = 2) {
        self.endpoints = endpoints; self.namespace = namespace; self.username = username; self.password = password
        self.serverName = serverName; self.caFile = caFile; self.certFile = certFile; self.keyFile = keyFile
        self.requestTimeout = requestTimeout; self.dialTimeout = dialTimeout
    }

    /// A description for logs: never includes the password.
    public var redactedDescription: String {
        "etcd \(endpoints.joined(separator: ",")) namespace=\"\(namespace)\"" + (username.isEmpty ? "" : " user=\(username)")
    }
}
