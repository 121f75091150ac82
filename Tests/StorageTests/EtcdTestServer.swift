import Foundation
@testable import Storage

/// A throwaway etcd started by `scripts/start-etcd.sh` (one member or a cluster, optionally
/// with TLS and client certificates, or with etcd auth).
///
/// `shared` is one plain member, started once per test process on first use; every store gets
/// its own namespace on it. The script's watchdog stops members when this process exits. If a
/// member cannot start, the tests using it fail with the script's output: nothing is skipped.
final class EtcdTestServer: Sendable {
    let state: URL
    let endpoints: [String]
    let environment: [String: String]

    private init(state: URL, environment: [String: String]) {
        self.state = state
        self.environment = environment
        self.endpoints = (environment["ENDPOINTS"] ?? "").split(separator: ",").map(String.init)
    }

    private static let sharedTask = Task { try await EtcdTestServer.start() }
    static var shared: EtcdTestServer { get async throws { try await sharedTask.value } }

    static func start(nodes: Int = 1, tls: Bool = false, user: String? = nil, password: String? = nil) async throws -> EtcdTestServer {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("fedgate-etcdtest-\(UUID().uuidString)")
        var env = ["NODES": String(nodes), "TLS": tls ? "1" : "0"]
        if let user, let password { env["AUTH_USER"] = user; env["AUTH_PASSWORD"] = password }
        try await runScript("start-etcd.sh", [state.path], environment: env)
        let text = try String(contentsOf: state.appendingPathComponent("connection.env"), encoding: .utf8)
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        guard values["ENDPOINTS"] != nil else { throw ScriptFailure(message: "start-etcd.sh wrote no ENDPOINTS:\n\(text)") }
        return EtcdTestServer(state: state, environment: values)
    }

    func options(namespace: String = "t-\(UUID().uuidString)/", requestTimeout: TimeInterval = 5) -> EtcdOptions {
        EtcdOptions(endpoints: endpoints, namespace: namespace, serverName: environment["SERVER_NAME"],
                    caFile: environment["CA_FILE"], certFile: environment["CERT_FILE"], keyFile: environment["KEY_FILE"],
                    requestTimeout: requestTimeout, dialTimeout: 1)
    }

    /// A store in a fresh namespace (what each conformance case asks for).
    func freshStore() async throws -> EtcdStorage {
        try await EtcdStorage.open(options(), logger: testLogger)
    }

    /// Stops every member, keeping data (an outage); `resume()` restarts them.
    func pause() async throws { try await runScript("stop-etcd.sh", [state.path, "--keep"]) }
    func resume() async throws { try await runScript("start-etcd.sh", [state.path]) }
    /// Stops one member (`n0`, `n1`, …) for good.
    func stopMember(_ name: String) async throws { try await runScript("stop-etcd.sh", [state.path, name]) }
    func stop() async throws {
        try await runScript("stop-etcd.sh", [state.path])
        try? FileManager.default.removeItem(at: state)
    }
}
