import FedgateCore
import Foundation
import Logging
import Storage
import StorageConformance
import Testing

@Suite("StaticOverlayStorage")
struct StaticOverlayStorageTests {
    static let staticClient = Client(id: "static-app", secret: "from-config", redirectURIs: ["https://static.example/cb"],
                                     name: "Static App")
    static let staticPassword = Password(email: "Admin@Example.com", hash: "$2a$10$hash", username: "admin", userID: "admin-1")
    static let staticConnector = ConnectorRecord(id: "static-ldap", type: "ldap", name: "Corporate LDAP")

    func makeOverlay(backend: MemoryStorage = MemoryStorage()) -> StaticOverlayStorage {
        StaticOverlayStorage(backend: backend, clients: [Self.staticClient], passwords: [Self.staticPassword],
                             connectors: [Self.staticConnector])
    }

    @Test("conformance with no static objects", arguments: StorageConformance.all)
    func conformance(_ c: ConformanceCase) async throws {
        try await c.run { StaticOverlayStorage(backend: MemoryStorage()) }
    }

    @Test("static objects are read alongside stored ones")
    func reads() async throws {
        let backend = MemoryStorage()
        try await backend.createClient(Client(id: "stored-app", name: "Stored"))
        let overlay = makeOverlay(backend: backend)
        #expect(try await overlay.getClient(id: "static-app") == Self.staticClient)
        #expect(try await overlay.getClient(id: "stored-app").name == "Stored")
        #expect(try await overlay.listClients().map(\.id) == ["static-app", "stored-app"])
        #expect(try await overlay.getConnector(id: "static-ldap") == Self.staticConnector)
        #expect(try await overlay.listConnectors().map(\.id) == ["static-ldap"])
        await #expect(throws: StorageError.notFound) { try await overlay.getClient(id: "missing") }
    }

    @Test("a static object hides a stored one with the same key")
    func staticWins() async throws {
        let backend = MemoryStorage()
        try await backend.createClient(Client(id: "static-app", secret: "stale", name: "Stale copy"))
        try await backend.createPassword(Password(email: "admin@example.com", hash: "stale", username: "old", userID: "old"))
        let overlay = makeOverlay(backend: backend)
        #expect(try await overlay.getClient(id: "static-app") == Self.staticClient)
        #expect(try await overlay.listClients() == [Self.staticClient])
        #expect(try await overlay.getPassword(email: "admin@example.com").hash == "$2a$10$hash")
        #expect(try await overlay.listPasswords().map(\.userID) == ["admin-1"])
    }

    @Test("a token read with its user gets the static user where one is declared, as getPassword does")
    func tokenWithStaticUser() async throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        func token(_ id: String, _ email: String) -> RefreshToken {
            RefreshToken(id: id, token: "s", createdAt: now, lastUsed: now, clientID: "c", connectorID: "local",
                         claims: Claims(userID: id, username: id, email: email))
        }
        let sqlite = try await SQLiteStorage.open(file: ":memory:", logger: Logger(label: "test"))
        for backend in [sqlite, MemoryStorage()] as [any GatewayStorage] {
            try await backend.createPassword(Password(email: "admin@example.com", hash: "stale", username: "old", userID: "old"))
            try await backend.createPassword(Password(email: "user@example.com", hash: "h", username: "user", userID: "u"))
            try await backend.createRefreshToken(token("t-admin", "ADMIN@example.com"))
            try await backend.createRefreshToken(token("t-user", "user@example.com"))
            let overlay = StaticOverlayStorage(backend: backend, passwords: [Self.staticPassword])
            let admin = try await overlay.getRefreshTokenWithUser(id: "t-admin", passwordConnectorID: "local")
            #expect(admin.user == (try await overlay.getPassword(email: "admin@example.com")))
            #expect(admin.user?.hash == "$2a$10$hash")
            let user = try await overlay.getRefreshTokenWithUser(id: "t-user", passwordConnectorID: "local")
            #expect(user.token.id == "t-user")
            // SQLite reads the stored user with the token; a backend without the combined read leaves it to getPassword.
            #expect(user.user == (backend is SQLiteStorage ? try await overlay.getPassword(email: "user@example.com") : nil))
            #expect(try await overlay.getRefreshTokenWithUser(id: "t-admin", passwordConnectorID: "ldap").user == nil)
        }
        try await sqlite.close()
    }

    @Test("static objects are read-only")
    func readOnly() async throws {
        let overlay = makeOverlay()
        let readOnly = StorageError.corrupt("read-only")
        await #expect(throws: readOnly) { try await overlay.createClient(Client(id: "static-app")) }
        await #expect(throws: readOnly) { try await overlay.updateClient(id: "static-app") { $0.secret = "x" } }
        await #expect(throws: readOnly) { try await overlay.deleteClient(id: "static-app") }
        await #expect(throws: readOnly) { try await overlay.createConnector(ConnectorRecord(id: "static-ldap", type: "ldap", name: "x")) }
        await #expect(throws: readOnly) { try await overlay.updateConnector(id: "static-ldap") { $0.name = "x" } }
        await #expect(throws: readOnly) { try await overlay.deleteConnector(id: "static-ldap") }
        do {
            try await overlay.deleteClient(id: "static-app")
        } catch let error as StorageError {
            #expect(error.reason == "static client static-app is read-only")
        }
        #expect(try await overlay.getClient(id: "static-app") == Self.staticClient)
    }

    @Test("static passwords match email without regard to case and are read-only")
    func passwords() async throws {
        let overlay = makeOverlay()
        let found = try await overlay.getPassword(email: "ADMIN@example.COM")
        #expect(found.userID == "admin-1")
        #expect(found.email == "admin@example.com")
        let readOnly = StorageError.corrupt("read-only")
        await #expect(throws: readOnly) {
            try await overlay.createPassword(Password(email: "admin@EXAMPLE.com", hash: "h", username: "u", userID: "u"))
        }
        await #expect(throws: readOnly) { try await overlay.updatePassword(email: "Admin@example.com") { $0.hash = "x" } }
        await #expect(throws: readOnly) { try await overlay.deletePassword(email: "admin@example.com") }
    }

    @Test("other objects go to the backend")
    func passThrough() async throws {
        let backend = MemoryStorage()
        let overlay = makeOverlay(backend: backend)
        try await overlay.createClient(Client(id: "dynamic", name: "Dynamic"))
        try await overlay.updateClient(id: "dynamic") { $0.name = "Renamed" }
        #expect(try await backend.getClient(id: "dynamic").name == "Renamed")
        try await overlay.createPassword(Password(email: "User@Example.com", hash: "h", username: "u", userID: "u"))
        #expect(try await backend.getPassword(email: "user@example.com").userID == "u")
        #expect(try await overlay.listPasswords().map(\.email) == ["admin@example.com", "user@example.com"])
        try await overlay.deleteClient(id: "dynamic")
        await #expect(throws: StorageError.notFound) { try await backend.getClient(id: "dynamic") }
        try await overlay.updateKeys { $0.nextRotation = Date(timeIntervalSince1970: 100) }
        #expect(try await backend.getKeys().nextRotation == Date(timeIntervalSince1970: 100))
    }
}
