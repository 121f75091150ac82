import Connectors
import Foundation

/// Every problem found in one config file, thrown by `FedgateConfig.load`/`parse`.
///
/// The loader keeps going after the first problem (each section and each list element is decoded on
/// its own) so an operator fixes a broken file in one round instead of one error per restart.
/// `description` prints one line per problem, `<file>: <path>: <message>`, e.g.
/// `bad.yaml: connectors[1].config.host: required`.
public struct ConfigErrors: Error, Sendable, Equatable, CustomStringConvertible {
    /// The config file the problems were found in (as given to `load`/`parse`).
    public var file: String
    public var problems: [ConfigProblem]

    public init(file: String, problems: [ConfigProblem]) {
        self.file = file
        self.problems = problems
    }

    /// The problems without the file prefix: `<path>: <message>` each.
    public var lines: [String] { problems.map(\.description) }

    public var description: String {
        problems.map { "\(file): \($0.description)" }.joined(separator: "\n")
    }
}
