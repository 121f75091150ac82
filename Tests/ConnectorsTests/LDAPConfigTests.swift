@testable import Connectors
import FedgateCore
import Foundation
import Logging
import Testing

@Suite("LDAP connector config (Dex keys)")
struct LDAPConfigTests {
    func decode(_ json: String) throws -> LDAPConfig {
        try JSONDecoder().decode(LDAPConfig.self, from: Data(json.utf8))
    }

    func paths(_ config: LDAPConfig) -> [String] { config.validate().map(\.path) }

    /// Dex's documented example (`connector/ldap/ldap.go`), as JSON.
    static let dexExample = """
    {"host": "ldap.example.com:636", "rootCA": "/etc/dex/ldap.ca",
     "bindDN": "uid=serviceaccount,cn=users,dc=example,dc=com", "bindPW": "password",
     "usernamePrompt": "SSO Username",
     "userSearch": {"baseDN": "cn=users,dc=example,dc=com", "filter": "(objectClass=person)", "username": "uid",
                    "idAttr": "uid", "emailAttr": "mail", "nameAttr": "name", "preferredUsernameAttr": "uid"},
     "groupSearch": {"baseDN": "cn=groups,dc=example,dc=com", "filter": "(|(objectClass=posixGroup)(objectClass=groupOfNames))",
                     "userMatchers": [{"userAttr": "uid", "groupAttr": "memberUid"}, {"userAttr": "DN", "groupAttr": "member"}],
                     "nameAttr": "name"}}
    """

    @Test("Dex's example decodes key for key and validates")
    func dexKeys() throws {
        let config = try decode(Self.dexExample)
        #expect(config.host == "ldap.example.com:636")
        #expect(config.rootCA == "/etc/dex/ldap.ca")
        #expect(config.bindDN == "uid=serviceaccount,cn=users,dc=example,dc=com")
        #expect(config.usernamePrompt == "SSO Username")
        #expect(config.userSearch.username == ["uid"])
        #expect(config.userSearch.preferredUsernameAttr == "uid")
        #expect(config.groupSearch.effectiveMatchers == [
            .init(userAttr: "uid", groupAttr: "memberUid"), .init(userAttr: "DN", groupAttr: "member"),
        ])
        #expect(config.validate().isEmpty)
        #expect(!String(describing: config).contains("password"), "bindPW must not be printed")
    }

    @Test("defaults: idAttr uid, emailAttr mail, sub scope; the legacy userAttr/groupAttr pair still works")
    func defaultsAndLegacy() throws {
        let config = try decode("""
        {"host": "ldap", "insecureNoSSL": true, "userSearch": {"baseDN": "dc=x", "username": "uid"},
         "groupSearch": {"baseDN": "ou=g,dc=x", "userAttr": "DN", "groupAttr": "member", "nameAttr": "cn"}}
        """)
        #expect(config.userSearch.idAttr == "uid")
        #expect(config.userSearch.emailAttr == "mail")
        #expect(config.groupSearch.effectiveMatchers == [.init(userAttr: "DN", groupAttr: "member")])
        #expect(config.validate().isEmpty)
    }

    @Test("username may be a list (Dex master) or comma-separated")
    func usernameForms() throws {
        #expect(try decode(#"{"userSearch": {"username": ["sAMAccountName", "userPrincipalName"]}}"#).userSearch.username
            == ["sAMAccountName", "userPrincipalName"])
        #expect(try decode(#"{"userSearch": {"username": "uid, mail"}}"#).userSearch.username == ["uid", "mail"])
    }

    @Test("an empty block names every required field")
    func required() throws {
        let found = paths(try decode("{}"))
        #expect(found.contains("host"))
        #expect(found.contains("userSearch.baseDN"))
        #expect(found.contains("userSearch.username"))
    }

    @Test("problems are reported under the Dex key they concern")
    func namedProblems() throws {
        let config = try decode("""
        {"host": "ldap://ldap.example.com", "insecureNoSSL": true, "startTLS": true, "bindDN": "cn=svc",
         "clientCert": "/c.pem", "connectTimeout": "0s", "maxConnections": 0,
         "userSearch": {"baseDN": "dc=x", "username": "uid)(", "filter": "objectClass=person", "scope": "base",
                        "emailSuffix": "@example.com"},
         "groupSearch": {"baseDN": "ou=g", "userMatchers": [{"userAttr": "DN"}], "scope": "tree", "maxDepth": 100}}
        """)
        let found = paths(config)
        for expected in ["host", "bindPW", "clientKey", "connectTimeout", "maxConnections",
                         "userSearch.username", "userSearch.filter", "userSearch.scope", "userSearch.emailSuffix",
                         "userSearch.nameAttr", "groupSearch.nameAttr", "groupSearch.userMatchers[0].groupAttr",
                         "groupSearch.scope", "groupSearch.maxDepth"] {
            #expect(found.contains(expected), "expected a problem at \(expected); got \(found)")
        }
    }

    @Test("insecureNoSSL wins over startTLS and the TLS files, as in Dex: no problem, a plain connection")
    func insecureNoSSLPrecedence() throws {
        let config = try decode("""
        {"host": "ldap.example.com", "insecureNoSSL": true, "startTLS": true, "rootCA": "/nonexistent/ca.pem",
         "bindDN": "cn=svc", "bindPW": "pw",
         "userSearch": {"baseDN": "dc=x", "username": "uid", "nameAttr": "cn"}}
        """)
        #expect(paths(config).isEmpty, "\(paths(config))")
        let endpoint = try LDAPEndpoint(config: config, configDirectory: "/")
        #expect(endpoint.transport == .plain)
        #expect(endpoint.uri == "ldap://ldap.example.com:389")
        #expect(config.ignoredWithoutTLS == ["startTLS", "rootCA"])
    }

    @Test("durations accept seconds or Go strings; rootCAData accepts Dex's base64 and plain PEM")
    func formats() throws {
        let config = try decode(#"{"connectTimeout": "1500ms", "requestTimeout": 3}"#)
        #expect(config.connectTimeout == 1.5)
        #expect(config.requestTimeout == 3)
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
        #expect(LDAPEndpoint.decodeRootCAData(Data(pem.utf8).base64EncodedString()) == pem)
        #expect(LDAPEndpoint.decodeRootCAData(pem) == pem)
        #expect(LDAPEndpoint.decodeRootCAData("bm90IGEgY2VydA==") == nil)
        #expect(throws: DecodingError.self) { try decode(#"{"requestTimeout": "soon"}"#) }
    }

    @Test("host: default ports 636 for ldaps and 389 otherwise; IPv6 in brackets")
    func hosts() {
        #expect(LDAPEndpoint.splitHost("ldap.example.com", defaultPort: 636)! == ("ldap.example.com", 636))
        #expect(LDAPEndpoint.splitHost("ldap.example.com:3269", defaultPort: 636)! == ("ldap.example.com", 3269))
        #expect(LDAPEndpoint.splitHost("[::1]:389", defaultPort: 636)! == ("::1", 389))
        #expect(LDAPEndpoint.splitHost("ldaps://x", defaultPort: 636) == nil)
        #expect(LDAPEndpoint.splitHost("x:99999", defaultPort: 636) == nil)
    }

    @Test("open fails clearly for a rootCA that is missing or holds no certificate")
    func openChecksFiles() async throws {
        var config = try decode(#"{"host": "127.0.0.1", "userSearch": {"baseDN": "dc=x", "username": "uid"}}"#)
        config.rootCA = "/nonexistent/ca.pem"
        await #expect(throws: ConnectorError.invalidConfig("")) {
            _ = try await config.open(id: "ldap", environment: ConnectorEnvironment(logger: Logger(label: "t")))
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("not-a-ca-\(UUID().uuidString).pem").path
        try "hello".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        config.rootCA = file
        do {
            _ = try await config.open(id: "ldap", environment: ConnectorEnvironment(logger: Logger(label: "t")))
            Issue.record("open accepted a rootCA without certificates")
        } catch let error as ConnectorError {
            #expect(error.code == .invalidConfig)
            #expect(error.reason.contains("rootCA"))
        }
    }

    @Test("relative rootCA and client files: the working directory first, as Dex, then the config file's folder")
    func relativePaths() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("ldap-paths-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: base) }
        let (work, configDir) = (base.appendingPathComponent("work").path, base.appendingPathComponent("etc").path)
        for dir in [work, configDir, configDir + "/certs"] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
        try pem.write(toFile: configDir + "/certs/ca.pem", atomically: true, encoding: .utf8)
        try pem.write(toFile: configDir + "/certs/client.pem", atomically: true, encoding: .utf8)
        try "key".write(toFile: configDir + "/certs/client.key", atomically: true, encoding: .utf8)
        var config = try decode(#"{"host": "127.0.0.1", "userSearch": {"baseDN": "dc=x", "username": "uid"}}"#)
        (config.rootCA, config.clientCert, config.clientKey) = ("certs/ca.pem", "certs/client.pem", "certs/client.key")

        // Only next to the config file: found there.
        var endpoint = try LDAPEndpoint(config: config, configDirectory: configDir, workingDirectory: work)
        #expect(endpoint.caFile == configDir + "/certs/ca.pem")
        #expect(endpoint.certFile == configDir + "/certs/client.pem")
        #expect(endpoint.keyFile == configDir + "/certs/client.key")

        // In the working directory too: Dex's reading wins.
        try FileManager.default.createDirectory(atPath: work + "/certs", withIntermediateDirectories: true)
        try pem.write(toFile: work + "/certs/ca.pem", atomically: true, encoding: .utf8)
        endpoint = try LDAPEndpoint(config: config, configDirectory: configDir, workingDirectory: work)
        #expect(endpoint.caFile == work + "/certs/ca.pem")
        #expect(endpoint.certFile == configDir + "/certs/client.pem")

        // Nowhere: the error names both places it looked.
        config.rootCA = "certs/missing.pem"
        do {
            _ = try LDAPEndpoint(config: config, configDirectory: configDir, workingDirectory: work)
            Issue.record("a missing rootCA was accepted")
        } catch let error as ConnectorError {
            #expect(error.reason.contains(work + "/certs/missing.pem") && error.reason.contains(configDir + "/certs/missing.pem"), "\(error.reason)")
        }
    }

    @Test("the built-in registry knows the ldap type")
    func registered() {
        #expect(ConnectorRegistry.builtIn.configurationType(for: "ldap") is LDAPConfig.Type)
    }
}
