import Connectors
import Foundation
import Storage
import Yams

/// Where Fedgate keeps its state (`storage:` in Dex's config).
///
/// Dex also has mysql and kubernetes; those are rejected with a clear "not supported yet" so a
/// Dex config never silently falls back to a volatile store.
public enum StorageSettings: Sendable, Equatable {
    /// Everything in process memory; lost on restart (Dex `memory`).
    case memory
    /// A SQLite database file (Dex `sqlite3`, key `file`). Relative paths resolve against the working
    /// directory, like Dex's; `":memory:"` is allowed.
    case sqlite3(file: String)
    /// PostgreSQL, shared by several replicas (Dex `postgres`, `storage/sql/config.go` keys).
    case postgres(PostgresOptions)
    /// etcd v3, shared by several replicas (Dex `etcd`, `storage/etcd/config.go` keys).
    case etcd(EtcdOptions)

    /// Dex's storage type name.
    public var typeName: String {
        switch self {
        case .memory: "memory"
        case .sqlite3: "sqlite3"
        case .postgres: "postgres"
        case .etcd: "etcd"
        }
    }

    static let supported = ["memory", "sqlite3", "postgres", "etcd"]
    static let dexOnly = ["mysql", "kubernetes"]
}

extension StorageSettings {
    private struct Raw: Decodable {
        var type: String?
    }

    private struct SQLite3: Decodable {
        var file: String?
    }

    /// Dex's `sql.Postgres` (`NetworkDB` + `SSL`); durations are whole seconds, as in Dex.
    private struct Postgres: Decodable {
        var host: String?
        var port: Int?
        var database: String?
        var user: String?
        var password: String?
        var ssl: SSL?
        var connectionTimeout: Int?
        var maxOpenConns: Int?
        var maxIdleConns: Int?
        var connMaxLifetime: Int?

        struct SSL: Decodable {
            var mode: String?
            var caFile: String?
            var keyFile: String?
            var certFile: String?
        }

        static let schema: KeySchema = .object([
            "host": .any, "port": .any, "database": .any, "user": .any, "password": .any,
            "ssl": .keys("mode", "caFile", "keyFile", "certFile"),
            "connectionTimeout": .any, "maxOpenConns": .any, "maxIdleConns": .any, "connMaxLifetime": .any,
        ])
    }

    /// Dex's `etcd.Etcd`.
    private struct Etcd: Decodable {
        var endpoints: [String]?
        var namespace: String?
        var username: String?
        var password: String?
        var ssl: SSL?

        struct SSL: Decodable {
            var serverName: String?
            var caFile: String?
            var keyFile: String?
            var certFile: String?
        }

        static let schema: KeySchema = .object([
            "endpoints": .any, "namespace": .any, "username": .any, "password": .any,
            "ssl": .keys("serverName", "caFile", "keyFile", "certFile"),
        ])
    }

    /// Resolves `storage`; `config` is env-expanded first (Dex's `expandEnvInMap`).
    static func resolve(_ node: Node?, parser: inout ConfigParser) -> StorageSettings? {
        guard let node, !ConfigParser.isNull(node) else {
            parser.report("storage", "required")
            return nil
        }
        guard let raw = parser.decode(Raw.self, from: node, at: "storage") else { return nil }
        guard let type = raw.type, !type.isEmpty else {
            parser.report("storage.type", "required")
            return nil
        }
        let config = parser.configBlock(node.mapping?["config"])
        switch type {
        case "memory":
            return .memory
        case "sqlite3":
            guard let sqlite = parser.decode(SQLite3.self, from: config, at: "storage.config") else { return nil }
            guard let file = sqlite.file, !file.isEmpty else {
                parser.report("storage.config.file", "required")
                return nil
            }
            return .sqlite3(file: file)
        case "postgres":
            return resolvePostgres(canonical(config, Postgres.schema, parser: &parser), parser: &parser).map { .postgres($0) }
        case "etcd":
            return resolveEtcd(canonical(config, Etcd.schema, parser: &parser), parser: &parser).map { .etcd($0) }
        case _ where dexOnly.contains(type):
            parser.report("storage.type", "storage type \"\(type)\" is not supported yet (supported: \(supported.joined(separator: ", ")))")
            return nil
        default:
            parser.report("storage.type", "unknown storage type \"\(type)\" (supported: \(supported.joined(separator: ", ")))")
            return nil
        }
    }

    /// Go's `encoding/json` matches keys case-insensitively (`maxopenconns` finds `MaxOpenConns`).
    private static func canonical(_ node: Node, _ schema: KeySchema, parser: inout ConfigParser) -> Node {
        var problems: [ConfigProblem] = []
        let strict = parser.flag("CONFIG_DISALLOW_UNKNOWN_FIELDS", default: false)
        let result = schema.canonicalize(node, at: "storage.config", strict: strict, problems: &problems)
        parser.report(problems)
        return result
    }

    private static func resolvePostgres(_ config: Node, parser: inout ConfigParser) -> PostgresOptions? {
        guard let p = parser.decode(Postgres.self, from: config, at: "storage.config") else { return nil }
        let before = parser.problems.count
        var options = PostgresOptions()
        options.host = p.host ?? ""
        if let port = p.port {
            if (1...65535).contains(port) { options.port = port } else { parser.report("storage.config.port", "must be between 1 and 65535") }
        }
        options.database = p.database ?? ""
        options.user = p.user ?? ""
        options.password = p.password ?? ""
        if let mode = p.ssl?.mode, !mode.isEmpty {
            if let known = PostgresOptions.SSLMode(rawValue: mode) {
                options.sslMode = known
            } else {
                let modes = PostgresOptions.SSLMode.allCases.map(\.rawValue).joined(separator: ", ")
                parser.report("storage.config.ssl.mode", "unknown SSL mode \"\(mode)\" (supported: \(modes))")
            }
        }
        options.caFile = nonEmpty(p.ssl?.caFile)
        options.certFile = nonEmpty(p.ssl?.certFile)
        options.keyFile = nonEmpty(p.ssl?.keyFile)
        checkFiles(ca: options.caFile, cert: options.certFile, key: options.keyFile, parser: &parser)
        func seconds(_ value: Int?, _ field: String) -> TimeInterval {
            guard let value else { return 0 }
            guard value >= 0 else {
                parser.report("storage.config.\(field)", "must not be negative")
                return 0
            }
            return TimeInterval(value)
        }
        options.connectionTimeout = seconds(p.connectionTimeout, "connectionTimeout")
        options.connMaxLifetime = seconds(p.connMaxLifetime, "connMaxLifetime")
        // Dex: 0 (or absent) means the default of 5.
        for (value, field) in [(p.maxOpenConns, "maxOpenConns"), (p.maxIdleConns, "maxIdleConns")] {
            if let value, value < 0 { parser.report("storage.config.\(field)", "must not be negative") }
        }
        if let open = p.maxOpenConns, open > 0 { options.maxOpenConns = open }
        if let idle = p.maxIdleConns, idle > 0 { options.maxIdleConns = idle }
        if options.sslMode == .disable, options.caFile != nil || options.certFile != nil {
            parser.report("storage.config.ssl.mode", "is \"disable\" but TLS files are set")
        }
        return parser.problems.count == before ? options : nil
    }

    private static func resolveEtcd(_ config: Node, parser: inout ConfigParser) -> EtcdOptions? {
        guard let e = parser.decode(Etcd.self, from: config, at: "storage.config") else { return nil }
        let before = parser.problems.count
        let endpoints = e.endpoints ?? []
        if endpoints.isEmpty { parser.report("storage.config.endpoints", "required") }
        for (index, endpoint) in endpoints.enumerated() {
            let text = endpoint.contains("://") ? endpoint : "http://" + endpoint
            guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(),
                  scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty else {
                parser.report("storage.config.endpoints[\(index)]", "invalid endpoint \"\(endpoint)\" (want http(s)://host:port)")
                continue
            }
        }
        let username = e.username ?? ""
        let password = e.password ?? ""
        if username.isEmpty, !password.isEmpty { parser.report("storage.config.username", "required when password is set") }
        let options = EtcdOptions(endpoints: endpoints, namespace: e.namespace ?? "", username: username, password: password,
                                  serverName: nonEmpty(e.ssl?.serverName), caFile: nonEmpty(e.ssl?.caFile),
                                  certFile: nonEmpty(e.ssl?.certFile), keyFile: nonEmpty(e.ssl?.keyFile))
        checkFiles(ca: options.caFile, cert: options.certFile, key: options.keyFile, parser: &parser)
        return parser.problems.count == before ? options : nil
    }

    /// TLS files must exist, and a client certificate needs its key (and the reverse).
    private static func checkFiles(ca: String?, cert: String?, key: String?, parser: inout ConfigParser) {
        if let ca { parser.requireFile(ca, at: "storage.config.ssl.caFile") }
        if let cert { parser.requireFile(cert, at: "storage.config.ssl.certFile") }
        if let key { parser.requireFile(key, at: "storage.config.ssl.keyFile") }
        if (cert == nil) != (key == nil) {
            parser.report(cert == nil ? "storage.config.ssl.certFile" : "storage.config.ssl.keyFile",
                          "required when \(cert == nil ? "keyFile" : "certFile") is set")
        }
    }

    private static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }

    /// Reads only the `storage` section of a config file (for `fedgate storage copy`, whose
    /// files may be full Dex/Fedgate configs or just a `storage:` block). Throws `ConfigErrors`.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> StorageSettings {
        let yaml: String
        do {
            yaml = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read as UTF-8 text" : "no such file"
            throw ConfigErrors(file: path, problems: [ConfigProblem("", "cannot read config file: \(reason)")])
        }
        var parser = ConfigParser(file: path, registry: .builtIn, environment: environment)
        guard let root = parser.compose(yaml) else { throw parser.errors }
        let settings = resolve(root.mapping?["storage"], parser: &parser)
        guard parser.problems.isEmpty, let settings else { throw parser.errors }
        return settings
    }
}
