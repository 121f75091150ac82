import Connectors
import Foundation
import Yams

/// Field paths as operators read them (`staticClients[2].id`, `connectors[0].config.host`), and the
/// translation of decoder errors into `ConfigProblem`s with such paths.
enum ConfigPath {
    /// `base.key`, or `key` at the top level.
    static func join(_ base: String, _ key: String) -> String {
        base.isEmpty ? key : "\(base).\(key)"
    }

    /// `base[index]`.
    static func index(_ base: String, _ index: Int) -> String {
        "\(base)[\(index)]"
    }

    /// Appends a decoder's coding path to `base`; list positions become `[N]`.
    static func join(_ base: String, _ codingPath: [any CodingKey]) -> String {
        codingPath.reduce(base) { path, key in
            if let position = key.intValue { return index(path, position) }
            return join(path, key.stringValue)
        }
    }

    /// Turns anything thrown while decoding the node at `base` into one problem.
    static func problem(for error: any Error, at base: String) -> ConfigProblem {
        switch error {
        case let error as DecodingError:
            return problem(for: error, at: base)
        case let error as YamlError:
            return ConfigProblem(base, YAMLSyntax.message(for: error))
        case let error as ConfigErrors:
            // A nested loader (connector configs may reuse ours): keep the first problem's path.
            guard let first = error.problems.first else { return ConfigProblem(base, "invalid") }
            return ConfigProblem(join(base, first.path), first.message)
        case let error as ConnectorError:
            return ConfigProblem(base, error.reason)
        default:
            return ConfigProblem(base, String(describing: error))
        }
    }

    private static func problem(for error: DecodingError, at base: String) -> ConfigProblem {
        switch error {
        case .keyNotFound(let key, let context):
            return ConfigProblem(join(base, context.codingPath + [key]), "required")
        case .valueNotFound(_, let context):
            return ConfigProblem(join(base, context.codingPath), "required")
        case .typeMismatch(let type, let context):
            return ConfigProblem(join(base, context.codingPath), "expected \(typeName(type))")
        case .dataCorrupted(let context):
            return ConfigProblem(join(base, context.codingPath), context.debugDescription)
        @unknown default:
            return ConfigProblem(base, String(describing: error))
        }
    }

    /// YAML-flavoured names for the Swift types a decoder expected.
    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type, is Substring.Type, is Character.Type: return "string"
        case is Bool.Type: return "boolean"
        case is Int.Type, is Int8.Type, is Int16.Type, is Int32.Type, is Int64.Type,
             is UInt.Type, is UInt8.Type, is UInt16.Type, is UInt32.Type, is UInt64.Type: return "integer"
        case is Double.Type, is Float.Type, is Decimal.Type: return "number"
        case is Node.Mapping.Type: return "mapping"
        case is Node.Sequence.Type: return "list"
        case is Node.Scalar.Type: return "a single value, not a list or mapping"
        case is URL.Type: return "URL"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array<") || name.hasPrefix("Set<") { return "list" }
            if name.hasPrefix("Dictionary<") { return "mapping" }
            return name
        }
    }
}

/// Messages for YAML syntax errors, with the line and column libyaml reports.
enum YAMLSyntax {
    static func message(for error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let detail = context.map { " (\($0.text) at line \($0.mark.line), column \($0.mark.column))" } ?? ""
            return "YAML syntax error at line \(mark.line), column \(mark.column): \(problem)\(detail)"
        case .reader(let problem, let offset, _, _):
            return "YAML syntax error\(offset.map { " at byte \($0)" } ?? ""): \(problem)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
            return "YAML error at line \(context.mark.line), column \(context.mark.column): duplicate key \(keys)"
        default:
            return "YAML error: \(error)"
        }
    }
}
