import Foundation
import Logging
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

/// Runs `scripts/<name>` with bash and waits for it without blocking a cooperative thread.
///
/// Output goes to a file (daemons the script starts must not hold a pipe open); on failure the
/// error carries it. `OWNER_PID` is this process, so services stop when the tests end. The child
/// is spawned with `posix_spawn` and reaped with `waitpid(WNOHANG)` polling: Foundation's
/// `Process.terminationHandler` was seen never to fire inside the test runner, leaving zombies.
func runScript(_ name: String, _ arguments: [String], environment: [String: String] = [:]) async throws {
    let log = FileManager.default.temporaryDirectory.appendingPathComponent("fedgate-script-\(UUID().uuidString).log")
    defer { try? FileManager.default.removeItem(at: log) }
    var env = ProcessInfo.processInfo.environment
    env["OWNER_PID"] = String(getpid())
    for (key, value) in environment { env[key] = value }
    let argv = ["/bin/bash", repositoryRoot.appendingPathComponent("scripts/\(name)").path] + arguments
    let envp = env.map { "\($0.key)=\($0.value)" }

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, log.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)

    var pid: pid_t = 0
    let spawned: Int32 = withCStrings(argv) { cArgv in
        withCStrings(envp) { cEnvp in posix_spawn(&pid, "/bin/bash", &actions, nil, cArgv, cEnvp) }
    }
    guard spawned == 0 else { throw ScriptFailure(message: "cannot start scripts/\(name): errno \(spawned)") }
    var status: Int32 = 0
    while true {
        let done = waitpid(pid, &status, WNOHANG)
        if done == pid { break }
        if done < 0 && errno != EINTR { throw ScriptFailure(message: "waitpid for scripts/\(name): errno \(errno)") }
        try await Task.sleep(for: .milliseconds(20))
    }
    let exited = (status & 0x7f) == 0
    let code = (status >> 8) & 0xff
    guard exited, code == 0 else {
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        throw ScriptFailure(message: "scripts/\(name) \(arguments.joined(separator: " ")) failed (status \(status)):\n\(output)")
    }
}

/// Calls `body` with a NULL-terminated C array of the strings (for `posix_spawn`).
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    return body(pointers)
}
