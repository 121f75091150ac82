import Connectors
import Foundation
import Testing

@testable import Gateway

/// The repository root, found from this file so tests read `connector-configs/` and fixtures in place.
private let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private func files(in relativeDirectory: String) -> [String] {
    let directory = repositoryRoot.appendingPathComponent(relativeDirectory)
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.filter { $0.hasSuffix(".yaml") }.sorted()
}

/// The smallest valid config; cases append to it.
private let minimal = """
    issuer: http://127.0.0.1:5556/dex
    storage: {type: memory}
    web: {http: 127.0.0.1:5556}

    """

private func parse(_ yaml: String, environment: [String: String] = [:]) throws -> FedgateConfig {
    try FedgateConfig.parse(yaml: yaml, file: "test.yaml", environment: environment)
}

/// The `<path>: <message>` lines of a config expected to fail (empty if it loads).
private func problems(_ yaml: String, environment: [String: String] = [:]) -> [String] {
    do {
        _ = try parse(yaml, environment: environment)
        return []
    } catch let errors as ConfigErrors {
        return errors.lines
    } catch {
        return ["unexpected error type: \(error)"]
    }
}

@Suite("Example configs in connector-configs/")
struct ExampleConfigTests {
    static let examples = files(in: "connector-configs")

    @Test("The examples are all there")
    func examplesExist() {
        for name in ["quickstart.yaml", "mock-callback.yaml", "mock-password.yaml", "local.yaml", "dex-compat.yaml"] {
            #expect(Self.examples.contains(name), "missing connector-configs/\(name)")
        }
    }

    @Test("Every example loads without a problem", arguments: examples)
    func loads(_ name: String) throws {
        let path = repositoryRoot.appendingPathComponent("connector-configs/\(name)").path
        let config = try FedgateConfig.load(path: path, environment: [:])
        #expect(config.file == path)
        #expect(!config.staticClients.isEmpty)
        #expect(!config.connectors.isEmpty || config.enablePasswordDB)
    }

    @Test("quickstart.yaml matches the documented setup")
    func quickstart() throws {
        let path = repositoryRoot.appendingPathComponent("connector-configs/quickstart.yaml").path
        let config = try FedgateConfig.load(path: path, environment: [:])
        #expect(config.issuer == "http://127.0.0.1:5556/dex")
        #expect(config.issuerPath == "/dex")
        #expect(config.storage == .sqlite3(file: "var/fedgate.db"))
        #expect(config.web.httpAddress == ListenAddress(host: "127.0.0.1", port: 5556))
        #expect(config.enablePasswordDB)

        let app = try #require(config.staticClients.first { $0.id == "example-app" })
        #expect(app.secret == "ZXhhbXBsZS1hcHAtc2VjcmV0")
        #expect(app.redirectURIs == ["http://127.0.0.1:5555/callback"])
        #expect(app.name == "Example App")
        #expect(!app.isPublic)
        let cli = try #require(config.staticClients.first { $0.id == "cli" })
        #expect(cli.isPublic && cli.secret.isEmpty)

        let admin = try #require(config.staticPasswords.first)
        #expect(admin.email == "admin@example.com")
        #expect(admin.hash == "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W")
        #expect(admin.username == "admin")
        #expect(admin.userID == "08a8684b-db88-4b73-90a9-3cd1661f5466")
        #expect(admin.groups == ["admins"])
        #expect(admin.emailVerified)

        let mock = try #require(config.connectors.first)
        #expect(mock.type == "mockCallback" && mock.id == "mock" && mock.name == "Example")
        #expect(mock.config is MockCallbackConfig)
    }

    @Test("dex-compat.yaml keeps Dex's values")
    func dexCompat() throws {
        let path = repositoryRoot.appendingPathComponent("connector-configs/dex-compat.yaml").path
        let config = try FedgateConfig.load(path: path, environment: [:])
        #expect(config.storage == .memory)
        #expect(config.connectors.map(\.type) == ["mockCallback", "mockPassword"])
        #expect(config.expiry.refreshTokens.validIfNotUsedFor == 2_160 * 3_600)
        #expect(config.logger.level == .debug)
        #expect(config.oauth2.passwordConnector == "local")
        #expect(config.oauth2.grantTypes.contains("password"))
        #expect(config.frontend.issuer == "dex")
        let password = try #require(config.connectors[1].config as? MockPasswordConfig)
        #expect(password.username == "admin")
    }
}

@Suite("Broken configs name the field")
struct BrokenConfigTests {
    static let fixtures = files(in: "Tests/GatewayTests/Fixtures/configs/bad")

    /// Each fixture in `Fixtures/configs/bad/` is one row of the table: its `# expect:` comments are
    /// exactly the lines loading it must report, in order; `# env: NAME=value` sets the environment.
    @Test("Each broken fixture reports exactly its expected lines", arguments: fixtures)
    func fixture(_ name: String) throws {
        let path = repositoryRoot.appendingPathComponent("Tests/GatewayTests/Fixtures/configs/bad/\(name)").path
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        func comments(_ prefix: String) -> [String] {
            lines.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
        }
        let expected = comments("# expect: ")
        var environment: [String: String] = [:]
        for assignment in comments("# env: ") {
            let parts = assignment.split(separator: "=", maxSplits: 1).map(String.init)
            environment[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        #expect(!expected.isEmpty, "\(name) has no # expect: lines")
        let error = #expect(throws: ConfigErrors.self) { try FedgateConfig.load(path: path, environment: environment) }
        #expect(error?.lines == expected)
        #expect(error?.file == path)
    }

    @Test("The fixture table is all there")
    func fixturesFound() {
        #expect(Self.fixtures.count == 29, "found \(Self.fixtures)")
    }

    @Test("The description prefixes every line with the file")
    func description() {
        let errors = ConfigErrors(file: "bad.yaml", problems: [
            ConfigProblem("connectors[1].config.host", "required"), ConfigProblem("issuer", "required"),
        ])
        #expect(errors.description == "bad.yaml: connectors[1].config.host: required\nbad.yaml: issuer: required")
    }

    @Test("A missing file is one problem")
    func missingFile() {
        let error = #expect(throws: ConfigErrors.self) {
            try FedgateConfig.load(path: "/nonexistent/fedgate.yaml", environment: [:])
        }
        #expect(error?.description == "/nonexistent/fedgate.yaml: cannot read config file: no such file")
    }

    @Test("TLS files that exist are accepted")
    func tlsFilesExist() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fedgate-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let cert = directory.appendingPathComponent("tls.crt").path
        let key = directory.appendingPathComponent("tls.key").path
        #expect(FileManager.default.createFile(atPath: cert, contents: Data("cert".utf8)))
        #expect(FileManager.default.createFile(atPath: key, contents: Data("key".utf8)))
        let config = try parse(minimal.replacingOccurrences(
            of: "web: {http: 127.0.0.1:5556}", with: "web: {https: \"[::1]:5554\", tlsCert: \(cert), tlsKey: \(key)}"))
        #expect(config.web.httpsAddress == ListenAddress(host: "::1", port: 5554))
        #expect(config.web.http == nil)
    }
}

@Suite("Environment expansion")
struct EnvExpansionTests {
    private let connectorYAML = minimal + """
        staticClients:
        - id: $APP_ID
          name: App
          secret: ${APP_SECRET}
        connectors:
        - type: mockPassword
          id: pw
          name: Password
          config:
            username: ${MOCK_USER}
            password: pre-$MOCK_PASS-post
        """

    @Test("$VAR is expanded inside connectors[].config only, never in clients")
    func connectorConfigOnly() throws {
        let config = try parse(connectorYAML, environment: [
            "MOCK_USER": "kilgore", "MOCK_PASS": "trout", "APP_ID": "wrong", "APP_SECRET": "wrong",
        ])
        let password = try #require(config.connectors.first?.config as? MockPasswordConfig)
        #expect(password.username == "kilgore")
        #expect(password.password == "pre-trout-post")
        #expect(config.staticClients.first?.id == "$APP_ID")
        #expect(config.staticClients.first?.secret == "${APP_SECRET}")
    }

    @Test("DEX_EXPAND_ENV=false (or FEDGATE_EXPAND_ENV=false) turns expansion off")
    func disabled() throws {
        for flag in ["DEX_EXPAND_ENV", "FEDGATE_EXPAND_ENV"] {
            let config = try parse(connectorYAML, environment: [flag: "false", "MOCK_USER": "kilgore", "MOCK_PASS": "trout"])
            let password = try #require(config.connectors.first?.config as? MockPasswordConfig)
            #expect(password.username == "${MOCK_USER}")
            #expect(password.password == "pre-$MOCK_PASS-post")
        }
    }

    @Test("An unset variable expands to empty, which the connector then rejects")
    func unsetBecomesEmpty() {
        let found = problems(connectorYAML, environment: ["MOCK_PASS": "trout"])
        #expect(found.contains { $0.hasPrefix("connectors[0].config.username: ") }, "got: \(found)")
    }

    @Test("storage.config and signer.config are expanded too")
    func storageAndSigner() throws {
        let yaml = """
            issuer: http://127.0.0.1:5556/dex
            storage: {type: sqlite3, config: {file: "${DATA_DIR}/fedgate.db"}}
            web: {http: 127.0.0.1:5556}
            signer: {type: local, config: {algorithm: $ALG, keysRotationPeriod: "${ROTATE}"}}
            """
        let config = try parse(yaml, environment: ["DATA_DIR": "/var/lib/fedgate", "ALG": "ES256", "ROTATE": "2h"])
        #expect(config.storage == .sqlite3(file: "/var/lib/fedgate/fedgate.db"))
        #expect(config.signer.algorithm == "ES256")
        #expect(config.signer.keysRotationPeriod == 7_200)
    }

    @Test("idEnv and secretEnv read the named variables")
    func clientVariables() throws {
        let config = try parse(minimal + "staticClients:\n- {idEnv: APP_ID, secretEnv: APP_SECRET, name: App}\n",
                               environment: ["APP_ID": "app", "APP_SECRET": "s3cret"])
        #expect(config.staticClients.first?.id == "app")
        #expect(config.staticClients.first?.secret == "s3cret")
    }

    @Test("hashFromEnv reads the hash, bcrypt text or base64 of it")
    func hashFromEnv() throws {
        let hash = "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"
        let yaml = minimal + """
            enablePasswordDB: true
            staticPasswords:
            - {email: Admin@Example.com, hashFromEnv: ADMIN_HASH, username: admin, userID: "1"}
            - {email: jane@example.com, hashFromEnv: JANE_HASH, username: jane, userID: "2", emailVerified: false}
            """
        let config = try parse(yaml, environment: ["ADMIN_HASH": hash, "JANE_HASH": Data(hash.utf8).base64EncodedString()])
        #expect(config.staticPasswords.map(\.hash) == [hash, hash])
        #expect(config.staticPasswords.map(\.email) == ["admin@example.com", "jane@example.com"])
        #expect(config.staticPasswords.map(\.emailVerified) == [true, false])
    }

    struct GoCase: Sendable, CustomTestStringConvertible {
        var input: String
        var output: String
        var testDescription: String { input }
    }

    /// Expected outputs are what Go's `os.Expand` returns with the same mapping.
    static let goCases: [GoCase] = [
        GoCase(input: "plain", output: "plain"),
        GoCase(input: "$HOME/x", output: "/home/k/x"),
        GoCase(input: "${HOME}x", output: "/home/kx"),
        GoCase(input: "$HOMEx", output: ""),
        GoCase(input: "a$UNSET-b", output: "a-b"),
        GoCase(input: "cost $", output: "cost $"),
        GoCase(input: "$$", output: "pid"),
        GoCase(input: "$1st", output: "onest"),
        GoCase(input: "${1}", output: "one"),
        GoCase(input: "x${}y", output: "xy"),
        GoCase(input: "x${HOME", output: "xHOME"),
        GoCase(input: "a$%b", output: "a$%b"),
        GoCase(input: "${A B}", output: "spaced"),
        GoCase(input: "é$HOME€", output: "é/home/k€"),
    ]

    @Test("EnvExpansion follows Go's os.Expand", arguments: goCases)
    func goExpand(_ testCase: GoCase) {
        let environment = ["HOME": "/home/k", "$": "pid", "1": "one", "A B": "spaced"]
        #expect(EnvExpansion.expand(testCase.input) { environment[$0] } == testCase.output)
    }
}

@Suite("Go durations")
struct GoDurationTests {
    @Test("Valid durations", arguments: [
        ("300ms", 0.3), ("1.5h", 5_400.0), ("2h45m", 9_900.0), ("10s", 10.0), ("0", 0.0), ("-1m", -60.0),
        ("+5s", 5.0), (".5s", 0.5), ("1.s", 1.0), ("1h1m1s", 3_661.0), ("100us", 0.0001), ("100\u{00B5}s", 0.0001),
        ("2160h", 7_776_000.0),
    ])
    func valid(_ text: String, _ seconds: Double) throws {
        #expect(abs(try GoDuration.parse(text) - seconds) < 1e-9)
    }

    @Test("Nanosecond precision and the Int64 limit")
    func limits() throws {
        #expect(try GoDuration.parseNanoseconds("1h0.000000001s") == 3_600_000_000_001)
        #expect(try GoDuration.parseNanoseconds("9223372036854775807ns") == Int64.max)
        #expect(try GoDuration.parseNanoseconds("-9223372036854775808ns") == Int64.min)
        #expect(throws: GoDuration.ParseError.self) { try GoDuration.parseNanoseconds("9223372036854775808ns") }
        #expect(throws: GoDuration.ParseError.self) { try GoDuration.parseNanoseconds("3000000h") }
    }

    @Test("Invalid durations say why", arguments: [
        ("", "invalid duration \"\": not a duration"),
        ("10", "invalid duration \"10\": missing unit (use ns, us, ms, s, m or h)"),
        ("1d", "invalid duration \"1d\": unknown unit \"d\" (use ns, us, ms, s, m or h)"),
        ("h", "invalid duration \"h\": not a duration"),
        (".s", "invalid duration \".s\": not a duration"),
        ("1.2.3s", "invalid duration \"1.2.3s\": missing unit (use ns, us, ms, s, m or h)"),
        ("-", "invalid duration \"-\": not a duration"),
        ("1 h", "invalid duration \"1 h\": unknown unit \" h\" (use ns, us, ms, s, m or h)"),
    ])
    func invalid(_ text: String, _ message: String) {
        let error = #expect(throws: GoDuration.ParseError.self) { try GoDuration.parse(text) }
        #expect(error?.description == message)
    }
}

@Suite("Defaults and derived values")
struct ConfigDefaultsTests {
    @Test("A minimal config gets Dex's defaults")
    func defaults() throws {
        let config = try parse(minimal)
        #expect(config.signer.algorithm == "RS256")
        #expect(config.signer.keysRotationPeriod == 6 * 3_600)
        #expect(config.expiry.idTokens == 24 * 3_600)
        #expect(config.expiry.authRequests == 24 * 3_600)
        #expect(config.expiry.deviceRequests == 5 * 60)
        #expect(config.expiry.authCodes == 30 * 60)
        #expect(config.expiry.refreshTokens == RefreshTokenExpiry(disableRotation: false, reuseInterval: 3,
                                                                  validIfNotUsedFor: 0, absoluteLifetime: 0))
        #expect(config.logger == LoggerSettings(level: .info, format: .text))
        #expect(config.oauth2.responseTypes == ["code"])
        #expect(config.oauth2.grantTypes == ["authorization_code", "refresh_token"])
        #expect(config.oauth2.passwordConnector == nil)
        #expect(config.oauth2.pkce == PKCESettings(enforce: false, codeChallengeMethodsSupported: ["S256", "plain"]))
        #expect(config.frontend == FrontendSettings(dir: nil, theme: "light", issuer: "Fedgate", logoURL: "theme/logo.png"))
        #expect(config.telemetry.http == nil)
        #expect(!config.enablePasswordDB)
        #expect(config.staticClients.isEmpty && config.connectors.isEmpty && config.staticPasswords.isEmpty)
    }

    @Test("Configured lifetimes and the deprecated expiry.signingKeys")
    func lifetimes() throws {
        let config = try parse(minimal + """
            expiry: {signingKeys: 12h, idTokens: 10m, authCodes: 90s, refreshTokens: {disableRotation: true, reuseInterval: 0s}}
            """)
        #expect(config.expiry.idTokens == 600)
        #expect(config.expiry.authCodes == 90)
        #expect(config.signer.keysRotationPeriod == 12 * 3_600)
        #expect(config.expiry.refreshTokens.disableRotation)
        #expect(config.expiry.refreshTokens.reuseInterval == 0)

        let explicit = try parse(minimal + "expiry: {signingKeys: 12h}\nsigner: {config: {keysRotationPeriod: 1h}}\n")
        #expect(explicit.signer.keysRotationPeriod == 3_600)
    }

    @Test("issuerPath drops the trailing slash; the issuer stays as written", arguments: [
        ("http://127.0.0.1:5556/dex/", "/dex"), ("http://127.0.0.1:5556/dex", "/dex"),
        ("https://auth.example.com", ""), ("https://auth.example.com/", ""), ("https://example.com/a/b/", "/a/b"),
    ])
    func issuerPath(_ issuer: String, _ path: String) throws {
        let config = try parse(minimal.replacingOccurrences(of: "http://127.0.0.1:5556/dex", with: issuer))
        #expect(config.issuer == issuer)
        #expect(config.issuerPath == path)
        #expect(config.issuerURL.absoluteString == issuer)
    }

    @Test("Grant types follow Dex: implicit with token responses, password with a password connector")
    func grantTypes() throws {
        let config = try parse(minimal + """
            enablePasswordDB: true
            oauth2: {responseTypes: [code, "id_token token"], passwordConnector: local}
            """)
        #expect(config.oauth2.grantTypes.contains("implicit"))
        #expect(config.oauth2.grantTypes.contains("password"))
        #expect(config.oauth2.responseTypes == ["code", "id_token token"])

        let restricted = try parse(minimal + "oauth2: {grantTypes: [authorization_code, password, client_credentials]}\n")
        #expect(restricted.oauth2.grantTypes == ["authorization_code"])

        // Grants Dex has and Fedgate does not implement load from a Dex file but are not offered.
        let dexGrants = try parse(minimal + """
            oauth2: {grantTypes: [authorization_code, refresh_token, "urn:ietf:params:oauth:grant-type:device_code",
                                  "urn:ietf:params:oauth:grant-type:token-exchange", client_credentials]}
            """, environment: ["DEX_CLIENT_CREDENTIAL_GRANT_ENABLED_BY_DEFAULT": "true"])
        #expect(dexGrants.oauth2.grantTypes == ["authorization_code", "refresh_token"])
    }

    @Test("YAML anchors and merge keys work in Dex configs")
    func anchors() throws {
        let config = try parse(minimal + """
            staticClients:
            - &base {id: a, name: A, public: true, redirectURIs: [http://127.0.0.1:5555/callback]}
            - <<: *base
              id: b
            """)
        #expect(config.staticClients.map(\.id) == ["a", "b"])
        #expect(config.staticClients[1].redirectURIs == ["http://127.0.0.1:5555/callback"])
    }

    @Test("Merge keys work everywhere: connector blocks with their config, top-level sections, lists of merges")
    func mergeKeysEverywhere() throws {
        let config = try parse("""
            issuer: http://127.0.0.1:5556/dex
            x-storage: &sqlite {type: sqlite3, config: {file: /tmp/fedgate-merge-test.db}}
            x-signer: &es {type: local, config: {algorithm: ES256}}
            x-names: &names {name: Shared name}
            storage: {<<: *sqlite}
            signer:
              <<: *es
            web: {http: 127.0.0.1:5556}
            connectors:
            - &emea {type: mockPassword, id: emea, name: EMEA, config: {username: u, password: p}}
            - {<<: *emea, id: apac, name: APAC}
            - <<: [*names, *emea]
              id: amer
            """)
        #expect(config.storage == .sqlite3(file: "/tmp/fedgate-merge-test.db"))
        #expect(config.signer.algorithm == "ES256")
        #expect(config.connectors.map(\.id) == ["emea", "apac", "amer"])
        #expect(config.connectors.map(\.name) == ["EMEA", "APAC", "Shared name"])
        #expect(config.connectors.allSatisfy { $0.type == "mockPassword" })
    }

    @Test("logger.excludeFields is read (Dex's personal-data filter)")
    func excludeFields() throws {
        let config = try parse(minimal + "logger: {level: debug, excludeFields: [email, username, groups]}\n")
        #expect(config.logger == LoggerSettings(level: .debug, format: .text, excludeFields: ["email", "username", "groups"]))
    }

    @Test("Dex's device callback (/device/callback) is a redirect URI a Dex config may list")
    func deviceCallbackRedirect() throws {
        let config = try parse(minimal + """
            staticClients:
            - {id: incus, name: Incus, public: true, redirectURIs: ['https://app.example/cb', '/device/callback']}
            """)
        #expect(config.staticClients.first?.redirectURIs == ["https://app.example/cb", "/device/callback"])
    }

    @Test("Keys inside a connector's config match case-insensitively too (Dex decodes them with encoding/json)")
    func caseInsensitiveConnectorKeys() throws {
        let config = try parse(minimal + """
            connectors:
            - type: ldap
              id: ad
              name: AD
              config:
                Host: ldap.example.com:636
                insecureSkipverify: true
                BindDn: cn=svc,dc=example,dc=com
                bindpw: secret
                userSearch: {basedn: "ou=People,dc=example,dc=com", Username: sAMAccountName, NameAttr: cn, emailsuffix: example.com}
                groupsearch:
                  baseDn: ou=Groups,dc=example,dc=com
                  nameattr: cn
                  userMatchers: [{userattr: DN, GroupAttr: member}]
            """)
        let ldap = try #require(config.connectors.first?.config as? LDAPConfig)
        #expect(ldap.host == "ldap.example.com:636")
        #expect(ldap.insecureSkipVerify)
        #expect(ldap.bindDN == "cn=svc,dc=example,dc=com" && ldap.bindPW == "secret")
        #expect(ldap.userSearch.baseDN == "ou=People,dc=example,dc=com")
        #expect(ldap.userSearch.username == ["sAMAccountName"])
        #expect(ldap.userSearch.emailSuffix == "example.com")
        #expect(ldap.groupSearch.baseDN == "ou=Groups,dc=example,dc=com")
        #expect(ldap.groupSearch.nameAttr == "cn")
        #expect(ldap.groupSearch.userMatchers == [LDAPConfig.UserMatcher(userAttr: "DN", groupAttr: "member")])
    }

    @Test("Keys match case-insensitively, like Go's encoding/json")
    func caseInsensitiveKeys() throws {
        let config = try parse("""
            Issuer: http://127.0.0.1:5556/dex
            storage: {Type: memory}
            WEB: {HTTP: 127.0.0.1:5556}
            staticClients:
            - {ID: a, name: A, public: true, redirectUris: [http://127.0.0.1/cb]}
            """)
        #expect(config.staticClients.first?.redirectURIs == ["http://127.0.0.1/cb"])
    }

    @Test("Unknown keys are ignored unless DEX_CONFIG_DISALLOW_UNKNOWN_FIELDS is true")
    func unknownKeys() throws {
        let yaml = minimal + "colour: blue\ngrpc: {addr: 127.0.0.1:5557}\nweb2: {}\nlogger: {level: info, verbosity: 3}\n"
        #expect(throws: Never.self) { try parse(yaml) }
        for flag in ["DEX_CONFIG_DISALLOW_UNKNOWN_FIELDS", "FEDGATE_CONFIG_DISALLOW_UNKNOWN_FIELDS"] {
            #expect(problems(yaml, environment: [flag: "true"]) == [
                "colour: unknown field", "web2: unknown field", "logger.verbosity: unknown field",
            ])
        }
    }

    @Test("Legacy themes map to light; a frontend dir needs the theme's folder")
    func frontend() throws {
        #expect(try parse(minimal + "frontend: {theme: coreos}\n").frontend.theme == "light")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fedgate-web-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("themes/dark"),
                                                withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = try parse(minimal + "frontend: {dir: \(directory.path), theme: dark, extra: {tagline: hi}}\n")
        #expect(config.frontend.dir == directory.path)
        #expect(config.frontend.extra == ["tagline": "hi"])
        #expect(problems(minimal + "frontend: {dir: \(directory.path)}\n") == [
            "frontend.theme: theme \"light\" not found (no directory \(directory.path)/themes/light)",
        ])
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("themes/light"),
                                                withIntermediateDirectories: true)
        let fromEnv = try parse(minimal, environment: ["DEX_FRONTEND_DIR": directory.path])
        #expect(fromEnv.frontend.dir == directory.path)
    }

    @Test("Connector grant types and claim mapping are kept")
    func connectorExtras() throws {
        let config = try parse(minimal + """
            connectors:
            - type: mockCallback
              id: mock
              name: Mock
              grantTypes: [authorization_code]
              claimMapping: {groupsPrefix: "mock:", allowedGroups: [authors]}
            """)
        let mock = try #require(config.connectors.first)
        #expect(mock.grantTypes == ["authorization_code"])
        #expect(mock.claimMapping?.groupsPrefix == "mock:")
        #expect(mock.claimMapping?.allowedGroups == ["authors"])
    }

    @Test("Secrets stay out of descriptions")
    func redaction() throws {
        let config = try parse(minimal + """
            staticClients: [{id: a, name: A, secret: topsecret}]
            enablePasswordDB: true
            staticPasswords: [{email: a@b.c, hash: "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W", username: a, userID: "1"}]
            """)
        #expect(!String(describing: config.staticClients).contains("topsecret"))
        #expect(!String(describing: config.staticPasswords).contains("$2a$"))
    }

    @Test("Listen addresses parse like Go's")
    func listenAddress() {
        #expect(ListenAddress(":5556") == ListenAddress(host: "0.0.0.0", port: 5556))
        #expect(ListenAddress("[::]:443") == ListenAddress(host: "::", port: 443))
        #expect(ListenAddress("example.com:80")?.description == "example.com:80")
        #expect(ListenAddress("::1:80") == nil)
        #expect(ListenAddress("host:99999") == nil)
        #expect(ListenAddress("host") == nil)
    }
}

@Suite("web.headers")
struct WebHeadersConfigTests {
    static func config(_ headers: String) -> String {
        """
        issuer: http://127.0.0.1:5556/dex
        storage: {type: memory}
        web:
          http: 127.0.0.1:5556
          headers:
        \(headers)
        """
    }

    @Test("Dex's security headers and other valid headers load")
    func valid() throws {
        let config = try parse(Self.config("""
            X-Frame-Options: DENY
            Content-Security-Policy: "default-src 'self'"
            Strict-Transport-Security: "max-age=31536000;\tincludeSubDomains"
            Cache-Control: private
        """))
        #expect(config.web.headers["X-Frame-Options"] == "DENY")
        #expect(config.web.headers.count == 4)
    }

    @Test("invalid names, headers the server owns and control characters are config errors naming the header")
    func invalid() {
        #expect(problems(Self.config("""
            "Bad Name": x
            Content-Length: "12"
            date: x
            X-Request-ID: fixed
            Connection: close
            X-Note: "one\\ntwo"
        """)) == [
            "web.headers.Bad Name: invalid header name \"Bad Name\"",
            "web.headers.Connection: Connection is set by the server and cannot be configured",
            "web.headers.Content-Length: Content-Length is set by the server and cannot be configured",
            "web.headers.X-Note: the value contains a control character (line breaks are not allowed)",
            "web.headers.X-Request-ID: X-Request-ID is set by the server and cannot be configured",
            "web.headers.date: date is set by the server and cannot be configured",
        ])
    }
}
