import Testing
@testable import Gateway

@Suite("web.clientRemoteIP")
struct ClientRemoteIPTests {
    let behindProxy = ClientRemoteIPSettings(header: "X-Forwarded-For",
                                             trustedProxies: [IPPrefix("10.0.0.0/8")!, IPPrefix("fd00::/8")!, IPPrefix("127.0.0.1")!])

    @Test("Prefixes: IPv4, IPv6, bare addresses, IPv4-mapped IPv6; malformed ones refused")
    func prefixes() throws {
        let ten = try #require(IPPrefix("10.0.0.0/8"))
        #expect(ten.contains(IPPrefix.address("10.200.3.4")!))
        #expect(!ten.contains(IPPrefix.address("11.0.0.1")!))
        #expect(ten.contains(IPPrefix.address("::ffff:10.1.2.3")!))
        let narrow = try #require(IPPrefix("192.168.1.128/25"))
        #expect(narrow.contains(IPPrefix.address("192.168.1.200")!) && !narrow.contains(IPPrefix.address("192.168.1.127")!))
        let v6 = try #require(IPPrefix("2001:db8::/32"))
        #expect(v6.contains(IPPrefix.address("2001:db8:1::5")!) && !v6.contains(IPPrefix.address("2001:db9::1")!))
        #expect(!v6.contains(IPPrefix.address("10.0.0.1")!))
        #expect(try #require(IPPrefix("127.0.0.1")).description == "127.0.0.1/32")
        #expect(try #require(IPPrefix("0.0.0.0/0")).contains(IPPrefix.address("8.8.8.8")!))
        for bad in ["", "10.0.0.0/33", "10.0.0/8", "fd00::/129", "10.0.0.0/-1", "10.0.0.0/8/8", "host.example", "10.0.0.0/ 8"] {
            #expect(IPPrefix(bad) == nil, "\(bad)")
        }
    }

    @Test("The client is the rightmost address that is not a trusted proxy")
    func rightmostUntrusted() {
        // A trusted proxy forwarded for a client.
        #expect(behindProxy.clientAddress(peer: "10.0.0.5", header: ["203.0.113.7"]) == "203.0.113.7")
        // Two proxies: the first one's address is skipped too.
        #expect(behindProxy.clientAddress(peer: "10.0.0.5", header: ["203.0.113.7, 10.1.1.1"]) == "203.0.113.7")
        // What the client wrote itself (left) is never believed over what the proxy appended.
        #expect(behindProxy.clientAddress(peer: "10.0.0.5", header: ["198.51.100.9, 203.0.113.7"]) == "203.0.113.7")
        // Spaces and tabs around entries are not part of them.
        #expect(behindProxy.clientAddress(peer: "10.0.0.5", header: ["  203.0.113.7 ,\t10.1.1.1\t"]) == "203.0.113.7")
        // Several header lines are one list.
        #expect(behindProxy.clientAddress(peer: "10.0.0.5", header: ["198.51.100.9", "203.0.113.7, 10.9.9.9"]) == "203.0.113.7")
        // IPv6 clients and proxies.
        #expect(behindProxy.clientAddress(peer: "fd00::1", header: ["2001:db8::7, fd00::2"]) == "2001:db8::7")
        // Every hop trusted: the leftmost, where the request entered.
        #expect(behindProxy.clientAddress(peer: "10.0.0.5", header: ["10.3.3.3, 10.2.2.2"]) == "10.3.3.3")
    }

    func config(_ web: String) throws -> FedgateConfig {
        try FedgateConfig.parse(yaml: """
            issuer: http://127.0.0.1:5556/dex
            storage: {type: memory}
            web:
              http: 127.0.0.1:5556
            \(web)
            """, file: "test.yaml", environment: [:])
    }

    @Test("Read from a Dex config; a bad prefix or header name is an error naming the field")
    func fromConfig() throws {
        let web = try config("""
              clientRemoteIP:
                header: X-Forwarded-For
                trustedProxies: [10.0.0.0/8, "fd00::/8"]
            """)
        #expect(web.web.clientRemoteIP == ClientRemoteIPSettings(header: "X-Forwarded-For",
                                                                 trustedProxies: [IPPrefix("10.0.0.0/8")!, IPPrefix("fd00::/8")!]))
        #expect(try config("  clientRemoteIP: {trustedProxies: [10.0.0.0/8]}").web.clientRemoteIP == nil)
        #expect(try config("").web.clientRemoteIP == nil)
        let bad = #expect(throws: ConfigErrors.self) {
            try config("  clientRemoteIP: {header: \"X Forwarded\", trustedProxies: [10.0.0.0/8, 10.0.0.0/40]}")
        }
        #expect(bad?.lines == [
            "web.clientRemoteIP.trustedProxies[1]: invalid IP address or CIDR prefix \"10.0.0.0/40\" (e.g. 10.0.0.0/8)",
            "web.clientRemoteIP.header: invalid header name \"X Forwarded\"",
        ])
    }

    @Test("An untrusted peer, no header, or a malformed entry leaves the peer's address")
    func peerKept() {
        #expect(behindProxy.clientAddress(peer: "203.0.113.50", header: ["1.2.3.4"]) == "203.0.113.50")
        #expect(behindProxy.clientAddress(peer: "10.0.0.5", header: []) == "10.0.0.5")
        #expect(behindProxy.clientAddress(peer: "10.0.0.5", header: [""]) == "10.0.0.5")
        #expect(behindProxy.clientAddress(peer: "10.0.0.5", header: ["1.2.3.4, not-an-ip"]) == "10.0.0.5")
        #expect(behindProxy.clientAddress(peer: "unknown", header: ["1.2.3.4"]) == "unknown")
        let nobodyTrusted = ClientRemoteIPSettings(header: "X-Forwarded-For", trustedProxies: [])
        #expect(nobodyTrusted.clientAddress(peer: "10.0.0.5", header: ["1.2.3.4"]) == "10.0.0.5")
    }
}
