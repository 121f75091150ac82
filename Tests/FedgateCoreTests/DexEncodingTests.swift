import FedgateCore
import Foundation
import Testing

@Suite("Dex wire encodings")
struct DexEncodingTests {
    @Test("sub matches Dex's value for the example static password user")
    func subjectMatchesDex() {
        // Dex's docs and examples: admin@example.com, userID 08a8684b-..., connector "local".
        let sub = DexEncoding.subject(userID: "08a8684b-db88-4b73-90a9-3cd1661f5466", connectorID: "local")
        #expect(sub == "CiQwOGE4Njg0Yi1kYjg4LTRiNzMtOTBhOS0zY2QxNjYxZjU0NjYSBWxvY2Fs")
        let decoded = DexEncoding.decodeSubject(sub)
        #expect(decoded?.userID == "08a8684b-db88-4b73-90a9-3cd1661f5466")
        #expect(decoded?.connectorID == "local")
    }

    @Test("refresh tokens round-trip, including long values needing multi-byte varints")
    func refreshRoundTrip() throws {
        let long = String(repeating: "x", count: 300)
        for (id, token) in [("abc", "def"), ("id", long), (long, "t")] {
            let encoded = DexEncoding.refreshToken(id: id, token: token)
            let decoded = try #require(DexEncoding.decodeRefreshToken(encoded))
            #expect(decoded.id == id)
            #expect(decoded.token == token)
        }
    }

    @Test("garbage never decodes into a refresh token", arguments: ["", "!!!", "AAAA", "CgJhYhIDYWI", String(repeating: "A", count: 5000)])
    func garbageRejected(_ value: String) {
        if let decoded = DexEncoding.decodeRefreshToken(value) {
            // A structurally valid message may decode; it must then be empty or tiny, never a crash.
            #expect(decoded.id.utf8.count < 5000)
        }
    }

    @Test("truncated messages are rejected")
    func truncated() {
        let encoded = DexEncoding.refreshToken(id: "abcdef", token: "ghijkl")
        let bytes = Base64URL.decode(encoded)!
        let cut = Base64URL.encode(bytes.dropLast(3))
        #expect(DexEncoding.decodeRefreshToken(cut) == nil)
    }
}

@Suite("IDs, base64url and constant-time comparison")
struct PrimitiveTests {
    @Test("IDs look like Dex's: 26 lowercase base32 characters starting with a letter")
    func newID() {
        var seen = Set<String>()
        for _ in 0..<200 {
            let id = IDs.newID()
            #expect(id.count == 26)
            #expect(id.first!.isLetter)
            #expect(id.allSatisfy { "abcdefghijklmnopqrstuvwxyz234567".contains($0) })
            seen.insert(id)
        }
        #expect(seen.count == 200)
    }

    @Test("randomBytes gives the length asked, in one draw or several, never the same twice")
    func randomBytes() {
        for count in [0, 1, 7, 8, 32, 256, 300, 1000] {
            let first = IDs.randomBytes(count), second = IDs.randomBytes(count)
            #expect(first.count == count && second.count == count)
            if count >= 7 { #expect(first != second) }
        }
        // Every byte value shows up across many draws (the buffer is filled, not left zero).
        var seen = Set<UInt8>()
        for _ in 0..<64 { seen.formUnion(IDs.randomBytes(256)) }
        #expect(seen.count == 256)
        #expect(IDs.newSecret().count == 43)
    }

    @Test("base32 matches RFC 4648 test vectors (lowercase, unpadded)")
    func base32Vectors() {
        #expect(IDs.base32(Array("foobar".utf8)) == "mzxw6ytboi")
        #expect(IDs.base32(Array("f".utf8)) == "my")
    }

    @Test("base64url has no padding and round-trips")
    func base64url() {
        let bytes: [UInt8] = [0xfb, 0xff, 0xfe, 0x00, 0x01]
        let s = Base64URL.encode(bytes)
        #expect(!s.contains("=") && !s.contains("+") && !s.contains("/"))
        #expect(Base64URL.decode(s).map(Array.init) == bytes)
        #expect(Base64URL.decode("a") == nil)
    }

    @Test("constant-time equality")
    func constantTime() {
        #expect(ConstantTime.equals("secret", "secret"))
        #expect(!ConstantTime.equals("secret", "secreT"))
        #expect(!ConstantTime.equals("secret", "secret1"))
        #expect(!ConstantTime.equals("", "x"))
        #expect(ConstantTime.equals("", ""))
        // Lengths that differ by a multiple of 256, the longer padded with zero bytes.
        #expect(!ConstantTime.equals("", String(repeating: "\u{0}", count: 256)))
        #expect(!ConstantTime.equals([1, 2], [1, 2] + [UInt8](repeating: 0, count: 512)))
    }

    @Test("cross-client scopes name their peers")
    func peers() {
        #expect(Scope.peers(in: ["openid", "audience:server:client_id:kube", "groups"]) == ["kube"])
        #expect(Scope.connectorScopes(["offline_access", "groups"]) == ConnectorScopes(offlineAccess: true, groups: true))
    }

    @Test("base64url decoding agrees with Foundation's base64 for every length, and refuses padding and stray characters")
    func base64URLAgainstFoundation() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let standard = Data(bytes).base64EncodedString()
            let url = String(standard.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 }.filter { $0 != "=" })
            #expect(Base64URL.encode(bytes) == url)
            // Sequences without contiguous storage, and slices, encode the same.
            #expect(Base64URL.encode(bytes.lazy.map { $0 }) == url)
            #expect(Base64URL.encode(([0] + bytes).dropFirst()) == url)
            #expect(Base64URL.decode(url).map(Array.init) == bytes)
            if standard.hasSuffix("=") { #expect(Base64URL.decode(url + "=") == nil) }
        }
        #expect(Base64URL.decode("ab!d") == nil)
        #expect(Base64URL.decode("abcde") == nil)
        #expect(Base64URL.decode("") == Data())
    }
}
