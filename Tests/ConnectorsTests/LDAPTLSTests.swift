@testable import Connectors
import FedgateCore
import Foundation
import Testing

/// TLS against slapd with a CA made when it started: ldaps://, StartTLS, a per-connector CA from
/// a file or inline, client certificates, and the failures a wrong CA must produce.
@Suite("LDAP connector: TLS")
struct LDAPTLSTests {
    @Test("ldaps:// and StartTLS log in with the directory's CA as rootCA")
    func verified() async throws {
        let directory = try await LDAPTestDirectory.shared.value
        for transport in [LDAPTestDirectory.Transport.ldaps, .startTLS] {
            let ldap = try await directory.config(transport).connector()
            defer { ldap.shutdown() }
            let identity = try await ldap.login(username: "alice", password: "alicepass", scopes: .withGroups)
            #expect(identity?.groups.contains("admins") == true, "\(transport)")
        }
    }

    @Test("rootCAData: the CA inline, as base64 of the PEM (Dex's form)")
    func inlineCA() async throws {
        let directory = try await LDAPTestDirectory.shared.value
        var config = directory.config(.ldaps)
        config.rootCA = ""
        config.rootCAData = try Data(contentsOf: URL(fileURLWithPath: directory.caFile)).base64EncodedString()
        let ldap = try await config.connector()
        defer { ldap.shutdown() }
        #expect(try await ldap.login(username: "bob", password: "bobpass", scopes: .withGroups) != nil)
    }

    @Test("a wrong CA fails the login with a clear certificate error, for ldaps and StartTLS alike")
    func wrongCA() async throws {
        let directory = try await LDAPTestDirectory.shared.value
        for transport in [LDAPTestDirectory.Transport.ldaps, .startTLS] {
            var config = directory.config(transport)
            config.rootCA = directory.otherCAFile
            let ldap = try await config.connector()
            defer { ldap.shutdown() }
            do {
                _ = try await ldap.login(username: "alice", password: "alicepass", scopes: .withGroups)
                Issue.record("\(transport): login succeeded with the wrong CA")
            } catch let error as ConnectorError {
                #expect(error.code == .unreachable, "\(transport): \(error)")
                let reason = error.reason.lowercased()
                #expect(reason.contains("certificate") || reason.contains("tls") || reason.contains("ssl"),
                        "\(transport): the message should say why: \(error.reason)")
            }
        }
    }

    @Test("insecureSkipVerify accepts any certificate (and is the only way to)")
    func skipVerify() async throws {
        let directory = try await LDAPTestDirectory.shared.value
        var config = directory.config(.ldaps)
        config.rootCA = directory.otherCAFile
        config.insecureSkipVerify = true
        let ldap = try await config.connector()
        defer { ldap.shutdown() }
        #expect(try await ldap.login(username: "alice", password: "alicepass", scopes: .withGroups) != nil)
    }

    @Test("without insecureNoSSL the connector never speaks plain LDAP: pointed at a plain port, TLS fails")
    func plainNeedsOptIn() async throws {
        let directory = try await LDAPTestDirectory.shared.value
        var config = directory.config(.ldaps)
        config.host = "127.0.0.1:\(directory.ldapPort)"
        let ldap = try await config.connector()
        defer { ldap.shutdown() }
        await #expect(throws: ConnectorError.unreachable("")) {
            _ = try await ldap.login(username: "alice", password: "alicepass", scopes: .withGroups)
        }
    }

    @Test("a directory that demands client certificates accepts clientCert/clientKey and refuses without")
    func clientCertificates() async throws {
        let directory = try await LDAPTestDirectory.start("mtls", environment: ["VERIFY_CLIENT": "demand", "BIG_GROUPS": "0"])
        do {
            var with = directory.config(.ldaps)
            with.clientCert = directory.clientCert
            with.clientKey = directory.clientKey
            let good = try await with.connector()
            defer { good.shutdown() }
            #expect(try await good.login(username: "alice", password: "alicepass", scopes: .withGroups) != nil)

            let without = try await directory.config(.ldaps).connector()
            defer { without.shutdown() }
            await #expect(throws: ConnectorError.unreachable("")) {
                _ = try await without.login(username: "alice", password: "alicepass", scopes: .withGroups)
            }
        } catch {
            await directory.destroy()
            throw error
        }
        await directory.destroy()
    }
}
