@testable import Connectors
import FedgateCore
import Foundation
import Testing

/// A directory that goes away or stops answering must fail its own logins quickly with
/// `unreachable`, stall nothing else, and be used again once it is back, without reopening the
/// connector. Each test has a slapd of its own.
@Suite("LDAP connector: directory outages")
struct LDAPOutageTests {
    @Test("slapd stopped mid-run: unreachable at once (refresh too, never userNotFound), then recovery")
    func stoppedAndRestarted() async throws {
        let directory = try await LDAPTestDirectory.start("outage", environment: ["BIG_GROUPS": "0"])
        do {
            let ldap = try await directory.config().connector()
            defer { ldap.shutdown() }
            let identity = try #require(try await ldap.login(username: "alice", password: "alicepass", scopes: .withGroups))

            try await directory.stop()
            let clock = ContinuousClock()
            let started = clock.now
            await #expect(throws: ConnectorError.unreachable("")) {
                _ = try await ldap.login(username: "alice", password: "alicepass", scopes: .withGroups)
            }
            await #expect(throws: ConnectorError.unreachable("")) {
                _ = try await ldap.refresh(scopes: .withGroups, identity: identity)
            }
            #expect(clock.now - started < .seconds(3), "a refused connection fails fast, well inside the 5 s timeout")

            try await directory.restart()
            let again = try await ldap.login(username: "alice", password: "alicepass", scopes: .withGroups)
            #expect(again?.groups == identity.groups)
            let refreshed = try await ldap.refresh(scopes: .withGroups, identity: identity)
            #expect(refreshed.userID == "alice")
        } catch {
            await directory.destroy()
            throw error
        }
        await directory.destroy()
    }

    @Test("a hung directory fails logins within requestTimeout and never blocks the cooperative pool")
    func hungDirectory() async throws {
        let directory = try await LDAPTestDirectory.start("hung", environment: ["BIG_GROUPS": "0"])
        do {
            var config = directory.config()
            config.requestTimeout = 1.5
            config.maxConnections = 2
            let ldap = try await config.connector()
            defer { ldap.shutdown() }
            #expect(try await ldap.login(username: "bob", password: "bobpass", scopes: .withGroups) != nil)

            try directory.signal(SIGSTOP)
            let clock = ContinuousClock()
            let started = clock.now
            // More logins than connections (and than cores): all wait on the directory at once.
            async let failures: Int = withTaskGroup(of: Bool.self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        do {
                            _ = try await ldap.login(username: "bob", password: "bobpass", scopes: .withGroups)
                            return false
                        } catch let error as ConnectorError {
                            return error.code == .unreachable
                        } catch {
                            return false
                        }
                    }
                }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            // Meanwhile, other async work keeps running on the cooperative pool.
            var ticks = 0
            let tickStart = clock.now
            while clock.now - tickStart < .milliseconds(500) {
                try await Task.sleep(for: .milliseconds(10))
                ticks += 1
            }
            // A blocked pool would run the ticker exactly once, after the logins gave up; a second
            // tick proves it kept running. (Other suites run in parallel on this 2-thread pool, so
            // the count itself depends on load and is not asserted further.)
            #expect(ticks >= 2, "the cooperative pool kept running while logins waited (\(ticks) ticks of 10 ms in 0.5 s)")
            #expect(await failures == 6)
            let elapsed = clock.now - started
            #expect(elapsed < .seconds(6), "all logins failed within the 1.5 s timeout (plus slack for a loaded machine): \(elapsed)")

            try directory.signal(SIGCONT)
            #expect(try await ldap.login(username: "bob", password: "bobpass", scopes: .withGroups) != nil)
        } catch {
            try? directory.signal(SIGCONT)
            await directory.destroy()
            throw error
        }
        await directory.destroy()
    }
}
