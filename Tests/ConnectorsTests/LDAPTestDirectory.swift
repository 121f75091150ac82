import Connectors
import FedgateCore
import Foundation
import Logging
import TestProcessSupport

/// A real slapd for the LDAP tests, started by `scripts/start-slapd.sh` in a throwaway directory
/// on free loopback ports, seeded from `Tests/ldap/seed.ldif`, with a CA made at start.
///
/// The script is told this test process's PID, so slapd is killed (and its directory removed)
/// when the process ends, even if a test crashes: Swift Testing has no global teardown.
final class LDAPTestDirectory: Sendable {
    let directory: String
    let ldapPort: Int
    let ldapsPort: Int

    static let bindDN = "cn=fedgate,ou=Services,dc=example,dc=org"
    static let bindPW = "fedgate-service"
    static let rootDN = "cn=admin,dc=example,dc=org"
    static let rootPW = "adminpass"

    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The server most tests share (read-only use, or their own entries).
    static let shared = Task { try await LDAPTestDirectory.start("shared") }

    private init(directory: String, ldapPort: Int, ldapsPort: Int) {
        self.directory = directory; self.ldapPort = ldapPort; self.ldapsPort = ldapsPort
    }

    var caFile: String { "\(directory)/ca.pem" }
    var otherCAFile: String { "\(directory)/other-ca.pem" }
    var clientCert: String { "\(directory)/client.pem" }
    var clientKey: String { "\(directory)/client.key" }
    var pidFile: String { "\(directory)/slapd.pid" }

    /// Starts a fresh slapd. `environment` passes script knobs (VERIFY_CLIENT, BIG_GROUPS).
    static func start(_ name: String, environment: [String: String] = [:]) async throws -> LDAPTestDirectory {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("fedgate-ldap-\(name)-\(getpid())-\(UUID().uuidString.prefix(8))").path
        var env = environment
        env["WATCH_PID"] = "\(getpid())"
        env["WATCH_CLEANUP"] = "1"
        let output = try await run(repositoryRoot.appendingPathComponent("scripts/start-slapd.sh").path, [directory], environment: env)
        var values: [String: String] = [:]
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { values[parts[0]] = parts[1] }
        }
        guard let ldap = values["LDAP_PORT"].flatMap(Int.init), let ldaps = values["LDAPS_PORT"].flatMap(Int.init) else {
            throw TestFailure("start-slapd.sh printed no ports:\n\(output)")
        }
        return LDAPTestDirectory(directory: directory, ldapPort: ldap, ldapsPort: ldaps)
    }

    /// Stops slapd (SIGKILL by default, which is what an outage looks like to a client).
    func stop(kill: Bool = true) async throws {
        let script = Self.repositoryRoot.appendingPathComponent("scripts/stop-slapd.sh").path
        _ = try await Self.run(script, kill ? ["--kill", directory] : [directory])
    }

    /// Starts the same directory again: same ports, data and certificates.
    func restart() async throws {
        let script = Self.repositoryRoot.appendingPathComponent("scripts/start-slapd.sh").path
        _ = try await Self.run(script, ["--restart", directory], environment: ["WATCH_PID": "\(getpid())", "WATCH_CLEANUP": "1"])
    }

    /// Stops slapd and removes its directory.
    func destroy() async {
        try? await stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Sends a signal to slapd (SIGSTOP makes a directory that accepts connections but never answers).
    func signal(_ number: Int32) throws {
        let text = try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let pid = Int32(text) else { throw TestFailure("no slapd pid in \(pidFile)") }
        Foundation.kill(pid, number)
    }

    /// Applies an LDIF change set as the directory's root (`ldapmodify -a`).
    func modify(_ ldif: String) async throws {
        _ = try await Self.run("/usr/bin/ldapmodify",
                               ["-x", "-a", "-H", "ldap://127.0.0.1:\(ldapPort)", "-D", Self.rootDN, "-w", Self.rootPW],
                               input: ldif)
    }

    /// Adds a user `uid=<uid>,ou=People` with password `<uid>pass`, a member of `groups` (groupOfNames
    /// created as needed under ou=Groups). For tests that change or delete their own users.
    func addUser(_ uid: String, groups: [String]) async throws {
        var ldif = """
        dn: uid=\(uid),ou=People,dc=example,dc=org
        objectClass: inetOrgPerson
        uid: \(uid)
        cn: \(uid) Test
        sn: Test
        displayName: \(uid)
        mail: \(uid)@example.org
        userPassword: \(uid)pass

        """
        for group in groups {
            ldif += """

            dn: cn=\(group),ou=Groups,dc=example,dc=org
            objectClass: groupOfNames
            cn: \(group)
            member: uid=\(uid),ou=People,dc=example,dc=org

            """
        }
        try await modify(ldif)
    }

    // MARK: - Connector configs

    enum Transport { case plain, startTLS, ldaps }

    /// A config for this directory in Dex's shape: groupOfNames by DN and posixGroup by uid.
    func config(_ transport: Transport = .plain) -> LDAPConfig {
        var config = LDAPConfig()
        switch transport {
        case .plain:
            config.host = "127.0.0.1:\(ldapPort)"
            config.insecureNoSSL = true
        case .startTLS:
            config.host = "127.0.0.1:\(ldapPort)"
            config.startTLS = true
            config.rootCA = caFile
        case .ldaps:
            config.host = "127.0.0.1:\(ldapsPort)"
            config.rootCA = caFile
        }
        config.bindDN = Self.bindDN
        config.bindPW = Self.bindPW
        config.requestTimeout = 5
        config.connectTimeout = 2
        config.maxConnections = 2
        config.userSearch.baseDN = "dc=example,dc=org"
        config.userSearch.filter = "(objectClass=inetOrgPerson)"
        config.userSearch.username = ["uid"]
        config.userSearch.idAttr = "uid"
        config.userSearch.emailAttr = "mail"
        config.userSearch.nameAttr = "displayName"
        config.userSearch.preferredUsernameAttr = "uid"
        config.groupSearch.baseDN = "ou=Groups,dc=example,dc=org"
        config.groupSearch.filter = "(|(objectClass=groupOfNames)(objectClass=posixGroup))"
        config.groupSearch.userMatchers = [
            .init(userAttr: "DN", groupAttr: "member"),
            .init(userAttr: "uid", groupAttr: "memberUid"),
        ]
        config.groupSearch.nameAttr = "cn"
        return config
    }

    // MARK: - Processes

    /// Runs a program with a deadline (see `ChildProcess`: Foundation's `Process` once hung a CI
    /// run here) and returns its output; throws with its output when it fails.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                    input: String? = nil) async throws -> String {
        do {
            return try await ChildProcess.run(executable, arguments, environment: environment, input: input,
                                              timeout: .seconds(180))
        } catch let failure as ChildProcess.Failure {
            throw TestFailure(failure.description)
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension LDAPConfig {
    /// Opens the connector as the gateway would.
    func connector(_ id: String = "ldap") async throws -> LDAPConnector {
        let opened = try await open(id: id, environment: ConnectorEnvironment(logger: Logger(label: "test.ldap")))
        guard let connector = opened as? LDAPConnector else { throw TestFailure("open returned \(type(of: opened))") }
        return connector
    }
}

/// Scopes the tests use.
extension ConnectorScopes {
    static let withGroups = ConnectorScopes(offlineAccess: true, groups: true)
    static let noGroups = ConnectorScopes(offlineAccess: true, groups: false)
}
