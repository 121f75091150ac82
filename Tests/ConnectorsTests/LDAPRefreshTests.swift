@testable import Connectors
import FedgateCore
import Foundation
import Testing

/// Refresh re-reads the directory. Each test adds users and groups of its own to the shared
/// slapd, so tests running in parallel never see each other's changes.
@Suite("LDAP connector: refresh against slapd")
struct LDAPRefreshTests {
    func unique(_ prefix: String) -> String { "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())" }

    @Test("a user removed from a group loses it at the next refresh; a new group appears")
    func groupChange() async throws {
        let directory = try await LDAPTestDirectory.shared.value
        let uid = unique("refresh"), keep = unique("keep"), drop = unique("drop"), later = unique("later")
        try await directory.addUser(uid, groups: [keep, drop])
        let ldap = try await directory.config().connector()
        defer { ldap.shutdown() }

        let identity = try #require(try await ldap.login(username: uid, password: "\(uid)pass", scopes: .withGroups))
        #expect(Set(identity.groups) == [keep, drop])

        try await directory.modify("""
        dn: cn=\(drop),ou=Groups,dc=example,dc=org
        changetype: modify
        delete: member
        member: uid=\(uid),ou=People,dc=example,dc=org
        -
        add: member
        member: uid=bob,ou=People,dc=example,dc=org

        dn: cn=\(later),ou=Groups,dc=example,dc=org
        objectClass: groupOfNames
        cn: \(later)
        member: uid=\(uid),ou=People,dc=example,dc=org
        """)
        let refreshed = try await ldap.refresh(scopes: .withGroups, identity: identity)
        #expect(Set(refreshed.groups) == [keep, later])
        #expect(refreshed.userID == identity.userID)
        #expect(refreshed.connectorData == identity.connectorData)
    }

    @Test("a user deleted from the directory is userNotFound (invalid_grant), never another error")
    func deletion() async throws {
        let directory = try await LDAPTestDirectory.shared.value
        let uid = unique("gone")
        try await directory.addUser(uid, groups: [])
        let ldap = try await directory.config().connector()
        defer { ldap.shutdown() }
        let identity = try #require(try await ldap.login(username: uid, password: "\(uid)pass", scopes: .withGroups))
        _ = try await ldap.refresh(scopes: .withGroups, identity: identity)

        try await directory.modify("""
        dn: uid=\(uid),ou=People,dc=example,dc=org
        changetype: delete
        """)
        await #expect(throws: ConnectorError.userNotFound()) {
            _ = try await ldap.refresh(scopes: .withGroups, identity: identity)
        }
    }

    @Test("a username that now resolves to another entry (deleted and re-created elsewhere) is userNotFound")
    func replaced() async throws {
        let directory = try await LDAPTestDirectory.shared.value
        let uid = unique("moved")
        try await directory.addUser(uid, groups: [])
        let ldap = try await directory.config().connector()
        defer { ldap.shutdown() }
        let identity = try #require(try await ldap.login(username: uid, password: "\(uid)pass", scopes: .withGroups))
        try await directory.modify("""
        dn: uid=\(uid),ou=People,dc=example,dc=org
        changetype: delete

        dn: uid=\(uid),ou=Contractors,dc=example,dc=org
        objectClass: inetOrgPerson
        uid: \(uid)
        cn: Someone Else
        sn: Else
        displayName: someone
        mail: \(uid)@example.org
        """)
        await #expect(throws: ConnectorError.userNotFound()) {
            _ = try await ldap.refresh(scopes: .withGroups, identity: identity)
        }
    }

    @Test("a refresh without the connector's data cannot be checked and is refused as userNotFound")
    func missingData() async throws {
        let ldap = try await LDAPTestDirectory.shared.value.config().connector()
        defer { ldap.shutdown() }
        let stale = UpstreamIdentity(userID: "alice", username: "alice.a")
        await #expect(throws: ConnectorError.userNotFound()) {
            _ = try await ldap.refresh(scopes: .withGroups, identity: stale)
        }
    }
}
