import Connectors
import FedgateCore
import Foundation
import Logging
import Testing

/// An in-memory password DB standing in for the gateway's storage-backed directory.
actor TestPasswordDirectory: PasswordDirectory {
    private var users: [String: LocalUser] = [:]
    private(set) var lookups: [String] = []

    init(_ users: [LocalUser]) {
        for user in users { self.users[user.email.lowercased()] = user }
    }

    func user(email: String) async throws -> LocalUser? {
        lookups.append(email)
        return users[email.lowercased()]
    }

    func delete(email: String) { users[email.lowercased()] = nil }
    func put(_ user: LocalUser) { users[user.email.lowercased()] = user }
}

/// A directory whose backend is down.
struct FailingPasswordDirectory: PasswordDirectory {
    struct Down: Error {}
    func user(email: String) async throws -> LocalUser? { throw Down() }
}

@Suite("local connector (password DB)")
struct LocalConnectorTests {
    static let admin = LocalUser(
        email: "admin@example.com", hash: BCryptTests.dexAdminHash, username: "admin",
        preferredUsername: "Admin", emailVerified: true, userID: "08a8684b-db88-4b73-90a9-3cd1661f5466",
        groups: ["admins", "devs"]
    )
    /// A well-formed hash whose cost (5) Dex refuses for logins; its password is "U*U".
    static let weak = LocalUser(
        email: "weak@example.com", hash: "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        username: "weak", userID: "weak-id"
    )

    func makeConnector(_ directory: some PasswordDirectory) -> LocalConnector {
        LocalConnector(id: "local", directory: directory)
    }

    @Test("the right password logs in, with the stored user's claims")
    func goodPassword() async throws {
        let connector = makeConnector(TestPasswordDirectory([Self.admin]))
        let identity = try await connector.login(username: "admin@example.com", password: "password", scopes: ConnectorScopes())
        #expect(identity == UpstreamIdentity(
            userID: "08a8684b-db88-4b73-90a9-3cd1661f5466", username: "admin", preferredUsername: "Admin",
            email: "admin@example.com", emailVerified: true, groups: ["admins", "devs"]
        ))
        #expect(connector.prompt == "Email Address")
    }

    @Test("the email is looked up lower-cased")
    func caseInsensitiveEmail() async throws {
        let directory = TestPasswordDirectory([Self.admin])
        let identity = try await makeConnector(directory).login(username: "Admin@Example.COM", password: "password", scopes: ConnectorScopes())
        #expect(identity?.userID == Self.admin.userID)
        #expect(await directory.lookups == ["admin@example.com"])
    }

    @Test("a wrong password gives no identity")
    func badPassword() async throws {
        let connector = makeConnector(TestPasswordDirectory([Self.admin]))
        #expect(try await connector.login(username: "admin@example.com", password: "Password", scopes: ConnectorScopes()) == nil)
    }

    @Test("an unknown user gives no identity, after a full bcrypt verification")
    func unknownUser() async throws {
        let directory = TestPasswordDirectory([Self.admin])
        let connector = makeConnector(directory)
        let start = ContinuousClock.now
        let identity = try await connector.login(username: "nobody@example.com", password: "password", scopes: ConnectorScopes())
        let elapsed = ContinuousClock.now - start
        #expect(identity == nil)
        #expect(await directory.lookups == ["nobody@example.com"])
        // A cost-10 bcrypt takes tens of milliseconds; a bare dictionary miss takes microseconds.
        #expect(elapsed > .milliseconds(5))
    }

    @Test("an empty password is refused without asking the directory")
    func emptyPassword() async throws {
        let directory = TestPasswordDirectory([Self.admin])
        #expect(try await makeConnector(directory).login(username: "admin@example.com", password: "", scopes: ConnectorScopes()) == nil)
        #expect(await directory.lookups.isEmpty)
    }

    @Test("a stored hash outside Dex's cost bounds is an error, not a bad password")
    func weakStoredHash() async throws {
        let connector = makeConnector(TestPasswordDirectory([Self.weak]))
        await #expect(throws: ConnectorError.upstreamError("")) {
            try await connector.login(username: "weak@example.com", password: "U*U", scopes: ConnectorScopes())
        }
    }

    @Test("a failing directory reports the upstream as unreachable")
    func directoryDown() async throws {
        let connector = makeConnector(FailingPasswordDirectory())
        await #expect(throws: ConnectorError.unreachable("")) {
            try await connector.login(username: "admin@example.com", password: "password", scopes: ConnectorScopes())
        }
    }

    @Test("refresh re-reads the user and picks up changes")
    func refreshPicksUpChanges() async throws {
        let directory = TestPasswordDirectory([Self.admin])
        let connector = makeConnector(directory)
        var identity = try #require(try await connector.login(username: "admin@example.com", password: "password", scopes: ConnectorScopes()))
        identity.connectorData = Data("kept".utf8)

        var changed = Self.admin
        changed.username = "root"
        changed.groups = ["devs"]
        await directory.put(changed)

        let refreshed = try await connector.refresh(scopes: ConnectorScopes(offlineAccess: true), identity: identity)
        #expect(refreshed.username == "root")
        #expect(refreshed.groups == ["devs"])
        #expect(refreshed.connectorData == Data("kept".utf8))
    }

    @Test("refresh after the user is deleted fails with userNotFound")
    func refreshAfterDelete() async throws {
        let directory = TestPasswordDirectory([Self.admin])
        let connector = makeConnector(directory)
        let identity = try #require(try await connector.login(username: "admin@example.com", password: "password", scopes: ConnectorScopes()))
        await directory.delete(email: "admin@example.com")
        await #expect(throws: ConnectorError.userNotFound()) {
            try await connector.refresh(scopes: ConnectorScopes(), identity: identity)
        }
    }

    @Test("refresh fails when the email now belongs to another user ID")
    func refreshAfterRecreate() async throws {
        let directory = TestPasswordDirectory([Self.admin])
        let connector = makeConnector(directory)
        let identity = try #require(try await connector.login(username: "admin@example.com", password: "password", scopes: ConnectorScopes()))
        var recreated = Self.admin
        recreated.userID = "someone-else"
        await directory.put(recreated)
        await #expect(throws: ConnectorError.userNotFound()) {
            try await connector.refresh(scopes: ConnectorScopes(), identity: identity)
        }
    }

    @Test("the config opens a local connector only with a password directory")
    func configOpen() async throws {
        let config = LocalConnectorConfig()
        #expect(LocalConnectorConfig.connectorType == "local")
        #expect(config.validate().isEmpty)
        let logger = Logger(label: "test")
        await #expect(throws: ConnectorError.invalidConfig("")) {
            try await config.open(id: "local", environment: ConnectorEnvironment(logger: logger))
        }
        let opened = try await config.open(
            id: "local", environment: ConnectorEnvironment(logger: logger, passwordDirectory: TestPasswordDirectory([Self.admin]))
        )
        let connector = try #require(opened as? any PasswordConnector)
        #expect(connector.id == "local")
        #expect(opened is any RefreshConnector)
        #expect(try await connector.login(username: "admin@example.com", password: "password", scopes: ConnectorScopes()) != nil)
    }
}
