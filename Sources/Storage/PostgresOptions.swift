import Foundation

/// How to reach PostgreSQL: Dex's `storage.config` for `type: postgres` (`storage/sql/config.go`,
/// `NetworkDB` + `SSL`), with Dex's defaults.
///
/// - `host` may be `host`, `host:port` (Dex keeps that form for backwards compatibility) or an
///   absolute directory holding the server's Unix socket (`/var/run/postgresql`), as with lib/pq.
/// - `sslMode` defaults to `verify-full`: Dex "assumes the strictest mode if unspecified".
/// - `maxOpenConns` and `maxIdleConns` default to 5, as in Dex.
public struct PostgresOptions: Sendable, Equatable {
    /// libpq's `sslmode` values that Dex documents.
    public enum SSLMode: String, Sendable, Equatable, CaseIterable {
        /// Plain TCP.
        case disable
        /// TLS, without checking the server certificate (libpq semantics).
        case require
        /// TLS; the certificate must chain to `caFile` (or the system roots), any host name.
        case verifyCA = "verify-ca"
        /// TLS; the certificate must chain to `caFile` and name the host.
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var database: String
    public var user: String
    public var password: String
    public var sslMode: SSLMode
    /// CA bundle (PEM) for `verify-ca` / `verify-full`; the system roots when nil.
    public var caFile: String?
    /// Client certificate and key (PEM) for certificate authentication.
    public var certFile: String?
    public var keyFile: String?
    /// Seconds to wait for a connection (Dex `connectionTimeout`); 0 means the default, 10 s.
    /// It also bounds how long requests queue while the server is unreachable before failing.
    public var connectionTimeout: TimeInterval
    /// The pool's upper bound on connections (Dex `maxOpenConns`).
    public var maxOpenConns: Int
    /// Connections kept open while idle (Dex `maxIdleConns`), capped below `maxOpenConns`.
    public var maxIdleConns: Int
    /// Dex `connMaxLifetime` in seconds. postgres-nio's pool has no lifetime cap, so this bounds
    /// how long a connection above the idle floor may stay idle; 0 keeps the pool's 60 s.
    public var connMaxLifetime: TimeInterval

    public init(host: String = "localhost", port: Int = 5432, database: String = "", user: String = "",
                password: String = "", sslMode: SSLMode = .verifyFull, caFile: String? = nil,
                certFile: String? = nil, keyFile: String? = nil, connectionTimeout: TimeInterval = 0,
                maxOpenConns: Int = 5, maxIdleConns: Int = 5, connMaxLifetime: TimeInterval = 0) {
        self.host = host; self.port = port; self.database = database; self.user = user
        self.password = password; self.sslMode = sslMode; self.caFile = caFile
        self.certFile = certFile; self.keyFile = keyFile; self.connectionTimeout = connectionTimeout
        self.maxOpenConns = maxOpenConns; self.maxIdleConns = maxIdleConns; self.connMaxLifetime = connMaxLifetime
    }

    /// Where to connect, after Dex's host parsing.
    enum Endpoint: Equatable {
        case tcp(host: String, port: Int)
        case unixSocket(path: String)
    }

    var endpoint: Endpoint {
        if host.hasPrefix("/") {
            // lib/pq: a host starting with "/" is the directory of the socket `.s.PGSQL.<port>`.
            let directory = host.hasSuffix("/") ? String(host.dropLast()) : host
            return .unixSocket(path: "\(directory)/.s.PGSQL.\(port)")
        }
        if let split = Self.splitHostPort(host) { return .tcp(host: split.host, port: split.port) }
        return .tcp(host: host.isEmpty ? "localhost" : host, port: port)
    }

    /// Go's `net.SplitHostPort` for the forms Dex accepts: `host:port` and `[v6]:port`.
    static func splitHostPort(_ text: String) -> (host: String, port: Int)? {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()) else { return nil }
            return (String(text[text.index(after: text.startIndex)..<close]), port)
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let port = Int(parts[1]) else { return nil }
        return (String(parts[0]), port)
    }

    /// A description for logs: never includes the password.
    public var redactedDescription: String {
        switch endpoint {
        case .tcp(let host, let port): "postgres://\(user)@\(host):\(port)/\(database) sslmode=\(sslMode.rawValue)"
        case .unixSocket(let path): "postgres://\(user)@unix(\(path))/\(database)"
        }
    }
}
