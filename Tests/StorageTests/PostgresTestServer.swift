import Foundation
import Logging
import TestProcessSupport
@testable import Storage

/// A throwaway PostgreSQL 15 started by `scripts/start-postgres.sh`, with scram-sha-256 password
/// authentication on 127.0.0.1.
///
/// `shared` is started once per test process, on first use, and stopped by the script's
/// watchdog when this process exits (`OWNER_PID`), even if it crashes. If the server cannot
/// start, every test using it fails with the script's output: nothing is skipped.
final class PostgresTestServer: Sendable {
    let state: URL
    let port: Int
    let password: String

    private init(state: URL, port: Int, password: String) {
        self.state = state; self.port = port; self.password = password
    }

    private static let sharedTask = Task { try await PostgresTestServer.start() }
    static var shared: PostgresTestServer { get async throws { try await sharedTask.value } }

    /// Starts a new server in a fresh state directory (the caller stops it).
    static func start() async throws -> PostgresTestServer {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("fedgate-pgtest-\(UUID().uuidString)")
        let password = "pw-\(UUID().uuidString)"
        try await runScript("start-postgres.sh", [state.path], environment: ["PG_PASSWORD": password, "DATABASE": "fedgate"])
        let env = try String(contentsOf: state.appendingPathComponent("connection.env"), encoding: .utf8)
        guard let line = env.split(separator: "\n").first(where: { $0.hasPrefix("PGPORT=") }),
              let port = Int(line.dropFirst("PGPORT=".count)) else {
            throw ScriptFailure(message: "start-postgres.sh wrote no PGPORT:\n\(env)")
        }
        return PostgresTestServer(state: state, port: port, password: password)
    }

    func options(database: String = "fedgate", connectionTimeout: TimeInterval = 10) -> PostgresOptions {
        PostgresOptions(host: "127.0.0.1", port: port, database: database, user: "postgres", password: password,
                        sslMode: .disable, connectionTimeout: connectionTimeout, maxOpenConns: 4, maxIdleConns: 1)
    }

    /// Creates an empty database and returns its name.
    func createDatabase() async throws -> String {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let admin = try await PostgresStorage.open(options(), logger: testLogger)
        do {
            _ = try await admin.withConnection { try await admin.run("CREATE DATABASE \(name)", on: $0) }
        } catch {
            try? await admin.close()
            throw error
        }
        try await admin.close()
        return name
    }

    /// A store on a fresh, empty database (what each conformance case asks for).
    func freshStore() async throws -> PostgresStorage {
        try await PostgresStorage.open(options(database: try await createDatabase()), logger: testLogger)
    }

    /// Stops the server but keeps its data (an outage); `resume()` brings it back on the same port.
    func pause() async throws { try await runScript("stop-postgres.sh", [state.path, "--keep"]) }
    func resume() async throws { try await runScript("start-postgres.sh", [state.path]) }
    func stop() async throws {
        try await runScript("stop-postgres.sh", [state.path])
        try? FileManager.default.removeItem(at: state)
    }
}

/// The repository root, from this file's path (Tests/StorageTests/…).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

struct ScriptFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// Runs `scripts/<name>` with bash, bounded by `timeout` (see `ChildProcess` for why not
/// Foundation's `Process`). `OWNER_PID` is this process, so services stop when the tests end.
func runScript(_ name: String, _ arguments: [String], environment: [String: String] = [:],
               timeout: Duration = .seconds(180)) async throws {
    var env = environment
    env["OWNER_PID"] = String(getpid())
    do {
        _ = try await ChildProcess.runScript(repositoryRoot.appendingPathComponent("scripts/\(name)").path, arguments,
                                             environment: env, timeout: timeout)
    } catch let failure as ChildProcess.Failure {
        throw ScriptFailure(message: failure.description)
    }
}
