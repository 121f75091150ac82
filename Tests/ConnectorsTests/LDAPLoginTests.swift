@testable import Connectors
import FedgateCore
import Foundation
import Testing

/// Logins against a real slapd seeded from `Tests/ldap/seed.ldif` (see that file for who is in
/// which group).
@Suite("LDAP connector: login against slapd")
struct LDAPLoginTests {
    func connector(_ configure: (inout LDAPConfig) -> Void = { _ in }) async throws -> LDAPConnector {
        var config = try await LDAPTestDirectory.shared.value.config()
        configure(&config)
        return try await config.connector()
    }

    @Test("the right password logs in with id, names, email and groups of both shapes")
    func login() async throws {
        let ldap = try await connector()
        defer { ldap.shutdown() }
        let identity = try #require(try await ldap.login(username: "alice", password: "alicepass", scopes: .withGroups))
        #expect(identity.userID == "alice")
        #expect(identity.username == "alice.a")
        #expect(identity.preferredUsername == "alice")
        #expect(identity.email == "alice@example.org")
        #expect(identity.emailVerified)
        // groupOfNames by member=DN, then posixGroup by memberUid=uid, in matcher order.
        #expect(identity.groups == ["admins", "developers", "ops", "ssh-users"])
        #expect(identity.rawClaims["dn"] == ["uid=alice,ou=People,dc=example,dc=org"])
        #expect(identity.connectorData != nil)
        #expect(ldap.prompt == "Username")
    }

    @Test("without the groups scope no group search is made")
    func noGroupsScope() async throws {
        let ldap = try await connector()
        defer { ldap.shutdown() }
        let identity = try #require(try await ldap.login(username: "bob", password: "bobpass", scopes: .noGroups))
        #expect(identity.groups.isEmpty)
    }

    @Test("a wrong password and an unknown user are bad credentials, not errors")
    func badCredentials() async throws {
        let ldap = try await connector()
        defer { ldap.shutdown() }
        #expect(try await ldap.login(username: "alice", password: "wrong", scopes: .withGroups) == nil)
        #expect(try await ldap.login(username: "nobody", password: "whatever", scopes: .withGroups) == nil)
        // The connection is still usable after a failed user bind (it re-binds as the service).
        #expect(try await ldap.login(username: "bob", password: "bobpass", scopes: .withGroups) != nil)
    }

    @Test("an empty password is refused before any bind: no connection is even attempted")
    func emptyPassword() async throws {
        // Port 1 on loopback: any attempt to reach the directory would throw `unreachable`.
        let ldap = try await connector { $0.host = "127.0.0.1:1" }
        defer { ldap.shutdown() }
        #expect(try await ldap.login(username: "alice", password: "", scopes: .withGroups) == nil)
        await #expect(throws: ConnectorError.unreachable("")) {
            _ = try await ldap.login(username: "alice", password: "x", scopes: .withGroups)
        }
    }

    /// A username argument that prints readably (escaped, long ones shortened) in test output.
    struct Hostile: Sendable, CustomTestStringConvertible {
        let value: String
        init(_ value: String) { self.value = value }
        var testDescription: String {
            let shown = value.count > 40 ? "\(value.prefix(8))... (\(value.utf8.count) bytes)" : value
            return shown.debugDescription
        }
    }

    @Test("hostile usernames match nothing and leave the connector working", arguments: [
        "*", "admin)(|(uid=*", "alice)(uid=*", "*)(objectClass=*", "alice\u{0}", "\u{0}", "al*",
        "\\2a", String(repeating: "a", count: 10 * 1024),
    ].map(Hostile.init))
    func hostileUsernames(_ username: Hostile) async throws {
        let ldap = try await connector()
        defer { ldap.shutdown() }
        #expect(try await ldap.login(username: username.value, password: "alicepass", scopes: .withGroups) == nil)
        #expect(try await ldap.login(username: "alice", password: "alicepass", scopes: .withGroups) != nil)
    }

    @Test("a username that matches two entries fails the login, even with the right password")
    func twoEntries() async throws {
        let ldap = try await connector()
        defer { ldap.shutdown() }
        await #expect(throws: ConnectorError.upstreamError("")) {
            _ = try await ldap.login(username: "twin", password: "twinpass", scopes: .withGroups)
        }
    }

    @Test("an entry without the email attribute is an error, as in Dex; emailSuffix builds one")
    func missingAttributes() async throws {
        let ldap = try await connector()
        defer { ldap.shutdown() }
        await #expect(throws: ConnectorError.upstreamError("")) {
            _ = try await ldap.login(username: "nomail", password: "nomailpass", scopes: .withGroups)
        }
        let suffixed = try await connector { $0.userSearch.emailSuffix = "corp.example.org" }
        defer { suffixed.shutdown() }
        let identity = try #require(try await suffixed.login(username: "nomail", password: "nomailpass", scopes: .withGroups))
        #expect(identity.email == "nomail@corp.example.org")
    }

    @Test("nested groups are followed, a cycle ends, and maxDepth bounds the walk")
    func nestedGroups() async throws {
        let nested = try await connector {
            $0.groupSearch.userMatchers = [.init(userAttr: "DN", groupAttr: "member", recursionGroupAttr: "DN")]
        }
        defer { nested.shutdown() }
        let bob = try #require(try await nested.login(username: "bob", password: "bobpass", scopes: .withGroups))
        #expect(Set(bob.groups) == ["developers", "cycle-a", "platform", "cycle-b", "engineering"])
        #expect(bob.groups.count == 5, "each group once despite the cycle")
        let carol = try #require(try await nested.login(username: "carol", password: "carolpass", scopes: .withGroups))
        #expect(carol.groups == ["chain-1", "chain-2", "chain-3", "chain-4"])

        let shallow = try await connector {
            $0.groupSearch.userMatchers = [.init(userAttr: "DN", groupAttr: "member", recursionGroupAttr: "DN")]
            $0.groupSearch.maxDepth = 2
        }
        defer { shallow.shutdown() }
        let bounded = try #require(try await shallow.login(username: "carol", password: "carolpass", scopes: .withGroups))
        #expect(bounded.groups == ["chain-1", "chain-2", "chain-3"])

        let flat = try await connector()
        defer { flat.shutdown() }
        let direct = try #require(try await flat.login(username: "carol", password: "carolpass", scopes: .withGroups))
        #expect(direct.groups == ["chain-1"])
    }

    @Test("a user in 1,200 groups gets all of them through paged results (the directory caps searches at 500)")
    func pagedGroups() async throws {
        let ldap = try await connector { $0.groupSearch.pageSize = 400 }
        defer { ldap.shutdown() }
        let pat = try #require(try await ldap.login(username: "pat", password: "patpass", scopes: .withGroups))
        #expect(pat.groups.count == 1200)
        #expect(pat.groups.first == "big-0001" || pat.groups.contains("big-0001"))
        #expect(Set(pat.groups).count == 1200)
    }

    @Test("Active Directory shapes: sAMAccountName or userPrincipalName, objectGUID id, memberOf groups")
    func activeDirectory() async throws {
        func adConfig(_ config: inout LDAPConfig) {
            config.userSearch.baseDN = "ou=AD,dc=example,dc=org"
            config.userSearch.filter = "(objectClass=adUser)"
            config.userSearch.username = ["sAMAccountName", "userPrincipalName"]
            config.userSearch.idAttr = "objectGUID"
            config.userSearch.nameAttr = "cn"
            config.userSearch.preferredUsernameAttr = "sAMAccountName"
            config.groupSearch.baseDN = "ou=ADGroups,dc=example,dc=org"
            config.groupSearch.filter = ""
            config.groupSearch.userMatchers = [.init(userAttr: "memberOf", groupAttr: "DN")]
            config.groupSearch.nameAttr = "cn"
        }
        let ad = try await connector(adConfig)
        defer { ad.shutdown() }
        for login in ["hsmith", "hsmith@corp.example.org", "HSMITH"] {
            let helen = try #require(try await ad.login(username: login, password: "hsmithpass", scopes: .withGroups), "\(login)")
            #expect(helen.userID == "mj8bLP9NTxChssPU5fYHGA==", "objectGUID as base64 of its 16 bytes")
            #expect(helen.username == "Helen Smith")
            #expect(helen.preferredUsername == "hsmith")
            #expect(helen.groups == ["Domain Admins", "VPN Users"])
        }

        let hex = try await connector {
            adConfig(&$0)
            $0.userSearch.binaryIDEncoding = .hex
            // With a filter the groups are read, not derived from the DN.
            $0.groupSearch.filter = "(objectClass=groupOfNames)"
        }
        defer { hex.shutdown() }
        let helen = try #require(try await hex.login(username: "hsmith", password: "hsmithpass", scopes: .withGroups))
        #expect(helen.userID == "9a3f1b2cff4d4f10a1b2c3d4e5f60718")
        #expect(helen.groups == ["Domain Admins", "VPN Users"])
    }

    @Test("memberOf values outside groupSearch.baseDN are ignored")
    func memberOfScope() async throws {
        let ldap = try await connector {
            $0.groupSearch.baseDN = "ou=Nowhere,dc=example,dc=org"
            $0.groupSearch.userMatchers = [.init(userAttr: "memberOf", groupAttr: "DN")]
        }
        defer { ldap.shutdown() }
        let alice = try #require(try await ldap.login(username: "alice", password: "alicepass", scopes: .withGroups))
        #expect(alice.groups.isEmpty)
    }

    @Test("forty concurrent logins over two connections all succeed, with no thread of the caller blocked")
    func concurrency() async throws {
        let ldap = try await connector()
        defer { ldap.shutdown() }
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<40 {
                group.addTask {
                    let (user, password) = index % 2 == 0 ? ("alice", "alicepass") : ("bob", index % 4 == 1 ? "bobpass" : "nope")
                    return try await ldap.login(username: user, password: password, scopes: .withGroups) != nil
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.filter { $0 }.count == 30)
    }
}
