import Connectors
import Foundation
import Yams

/// One pass over one config file. Holds the problems found so far so each section can report and
/// carry on; `FedgateConfig.parse` throws them all together at the end.
struct ConfigParser {
    let file: String
    let registry: ConnectorRegistry
    let environment: [String: String]
    private(set) var problems: [ConfigProblem] = []

    init(file: String, registry: ConnectorRegistry, environment: [String: String]) {
        self.file = file
        self.registry = registry
        self.environment = environment
    }

    mutating func report(_ path: String, _ message: String) {
        problems.append(ConfigProblem(path, message))
    }

    mutating func report(_ problems: [ConfigProblem]) {
        self.problems.append(contentsOf: problems)
    }

    var errors: ConfigErrors { ConfigErrors(file: file, problems: problems) }

    // MARK: YAML

    /// Parses the file into a node tree with canonical key spelling. A syntax error is one problem;
    /// an empty file is an empty mapping (so every required key is then reported).
    mutating func compose(_ yaml: String) -> Node? {
        let root: Node
        do {
            root = try Yams.compose(yaml: yaml) ?? Node([(Node, Node)]())
        } catch {
            problems.append(ConfigPath.problem(for: error, at: ""))
            return nil
        }
        guard case .mapping = root else {
            report("", "the config file must be a YAML mapping of keys to values")
            return nil
        }
        let strict = flag("CONFIG_DISALLOW_UNKNOWN_FIELDS", default: false)
        return KeySchema.fedgate.canonicalize(Self.resolvingMerges(root), at: "", strict: strict, problems: &problems)
    }

    /// The tree with YAML merge keys (`<<: *anchor`, `<<: [*a, *b]`) applied, so every lookup
    /// sees plain mappings (Dex reads its YAML through ghodss/yaml, which applies them
    /// everywhere). A mapping's own keys win over merged ones, and an earlier merged mapping over
    /// a later one (YAML 1.1 merge type). A merge of something other than a mapping is kept as
    /// written, for the decoder to report.
    static func resolvingMerges(_ node: Node) -> Node {
        switch node {
        case .mapping(let mapping):
            var own: [(Node, Node)] = [], merged: [(Node, Node)] = [], kept: [(Node, Node)] = []
            for (key, value) in mapping {
                guard key.tag.description == Tag.Name.merge.rawValue else {
                    own.append((key, resolvingMerges(value)))
                    continue
                }
                let sources: [Node]
                if case .sequence(let list) = value { sources = Array(list) } else { sources = [value] }
                guard sources.allSatisfy({ if case .mapping = $0 { true } else { false } }) else {
                    kept.append((key, value))
                    continue
                }
                for case .mapping(let source) in sources.map(resolvingMerges) {
                    for (mergedKey, mergedValue) in source where !merged.contains(where: { sameKey($0.0, mergedKey) }) {
                        merged.append((mergedKey, mergedValue))
                    }
                }
            }
            let pairs = own + merged.filter { candidate in !own.contains { sameKey($0.0, candidate.0) } } + kept
            return .mapping(Node.Mapping(pairs, mapping.tag, mapping.style, mapping.mark))
        case .sequence(let sequence):
            return .sequence(Node.Sequence(sequence.map(resolvingMerges), sequence.tag, sequence.style, sequence.mark))
        default:
            return node
        }
    }

    private static func sameKey(_ a: Node, _ b: Node) -> Bool {
        if let x = a.scalar?.string, let y = b.scalar?.string { return x == y }
        return a == b
    }

    /// Decodes `node` as `T`, or records the decoding problem (with `path` as the prefix) and returns nil.
    mutating func decode<T: Decodable>(_ type: T.Type, from node: Node, at path: String,
                                       userInfo: [CodingUserInfoKey: Any] = [:]) -> T? {
        do {
            return try YAMLDecoder().decode(type, from: node, userInfo: userInfo)
        } catch {
            problems.append(ConfigPath.problem(for: error, at: path))
            return nil
        }
    }

    /// Decodes a single top-level value: `.some(nil)` when absent or null, nil when it failed
    /// to decode (the problem is recorded).
    mutating func decodeValue<T: Decodable>(_ type: T.Type, from node: Node?, at path: String) -> T?? {
        guard let node, !Self.isNull(node) else { return .some(nil) }
        guard let value = decode(type, from: node, at: path) else { return nil }
        return .some(value)
    }

    /// Decodes an optional section: a missing or null node gives `T.init()`-like `empty`.
    mutating func decodeSection<T: Decodable>(_ type: T.Type, from node: Node?, at path: String, empty: T) -> T? {
        guard let node, !Self.isNull(node) else { return empty }
        return decode(type, from: node, at: path)
    }

    /// The list items at `path`, or nil with a problem when the node is not a list. Missing or
    /// null means an empty list.
    mutating func listItems(_ node: Node?, at path: String) -> [Node] {
        guard let node, !Self.isNull(node) else { return [] }
        guard case .sequence(let sequence) = node else {
            report(path, "expected list")
            return []
        }
        return Array(sequence)
    }

    static func isNull(_ node: Node) -> Bool {
        node.null != nil
    }

    // MARK: Environment

    /// A Dex feature flag (`pkg/featureflags`): `FEDGATE_<NAME>` wins over `DEX_<NAME>`; values are
    /// read like Go's `strconv.ParseBool`; anything unparsable keeps the default.
    func flag(_ name: String, default value: Bool) -> Bool {
        for key in ["FEDGATE_\(name)", "DEX_\(name)"] {
            guard let raw = environment[key] else { continue }
            switch raw {
            case "1", "t", "T", "TRUE", "true", "True": return true
            case "0", "f", "F", "FALSE", "false", "False": return false
            default: continue
            }
        }
        return value
    }

    /// `$VAR`/`${VAR}` expansion for the blocks Dex expands (`storage.config`, `connectors[].config`,
    /// `signer.config`), unless `DEX_EXPAND_ENV=false`.
    func expandingEnvironment(_ node: Node) -> Node {
        guard flag("EXPAND_ENV", default: true) else { return node }
        let environment = self.environment
        return EnvExpansion.expand(node) { environment[$0] }
    }

    /// A `config:` block ready to decode: env-expanded, and an empty mapping when absent or null
    /// (Dex decodes a missing block as the type's zero value).
    func configBlock(_ node: Node?) -> Node {
        guard let node, !Self.isNull(node) else { return Node([(Node, Node)]()) }
        return expandingEnvironment(node)
    }

    /// The value of an explicitly named variable (`idEnv`, `secretEnv`, `hashFromEnv`); empty
    /// counts as unset because Go's `os.Getenv` cannot tell them apart and neither can Dex.
    mutating func variable(_ name: String, at path: String) -> String? {
        guard let value = environment[name], !value.isEmpty else {
            report(path, "environment variable \"\(name)\" is not set")
            return nil
        }
        return value
    }

    // MARK: Values

    /// A Go duration at `path`; `fallback` when absent. Reports syntax errors and values below `minimum`.
    mutating func duration(_ text: String?, at path: String, default fallback: TimeInterval,
                           allowZero: Bool = false) -> TimeInterval {
        guard let text, !text.isEmpty else { return fallback }
        do {
            let seconds = try GoDuration.parse(text)
            if seconds < 0 || (seconds == 0 && !allowZero) {
                report(path, allowZero ? "must not be negative" : "must be positive")
                return fallback
            }
            return seconds
        } catch {
            report(path, error.description)
            return fallback
        }
    }

    /// A file path that must name an existing file (relative paths resolve against the working
    /// directory, as Dex does).
    mutating func requireFile(_ path: String, at field: String) {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            report(field, "file \"\(path)\" does not exist")
        } else if isDirectory.boolValue {
            report(field, "\"\(path)\" is a directory, not a file")
        }
    }

    /// Checks that `values` only holds members of `allowed`; reports each stranger at `path[i]`.
    mutating func requireMembers(_ values: [String], of allowed: [String], at path: String, what: String) {
        for (offset, value) in values.enumerated() where !allowed.contains(value) {
            report(ConfigPath.index(path, offset),
                   "unknown \(what) \"\(value)\" (supported: \(allowed.joined(separator: ", ")))")
        }
    }
}
