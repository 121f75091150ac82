import Foundation
import Yams

/// Where Fedgate keeps its state (`storage:` in Dex's config).
///
/// Dex also has postgres, mysql, etcd and kubernetes; those are rejected with a clear
/// "not supported yet" so a Dex config never silently falls back to a volatile store.
public enum StorageSettings: Sendable, Equatable {
    /// Everything in process memory; lost on restart (Dex `memory`).
    case memory
    /// A SQLite database file (Dex `sqlite3`, key `file`). Relative paths resolve against the working
    /// directory, like Dex's; `":memory:"` is allowed.
    case sqlite3(file: String)

    /// Dex's storage type name.
    public var typeName: String {
        switch self {
        case .memory: "memory"
        case .sqlite3: "sqlite3"
        }
    }

    static let supported = ["memory", "sqlite3"]
    static let dexOnly = ["postgres", "mysql", "etcd", "kubernetes"]
}

extension StorageSettings {
    private struct Raw: Decodable {
        var type: String?
    }

    private struct SQLite3: Decodable {
        var file: String?
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
        case _ where dexOnly.contains(type):
            parser.report("storage.type", "storage type \"\(type)\" is not supported yet (supported: \(supported.joined(separator: ", ")))")
            return nil
        default:
            parser.report("storage.type", "unknown storage type \"\(type)\" (supported: \(supported.joined(separator: ", ")))")
            return nil
        }
    }
}
