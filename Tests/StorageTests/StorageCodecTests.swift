import FedgateCore
import Foundation
import Testing
@testable import Storage

@Suite("StorageCodec")
struct StorageCodecTests {
    func document(_ text: String) throws -> NSDictionary {
        NSDictionary(dictionary: try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]))
    }

    func randomText(_ generator: inout SystemRandomNumberGenerator) -> String {
        let pool: [Unicode.Scalar] = (0..<0x80).compactMap(Unicode.Scalar.init) + ["é", "日", "🙂"]
        return String(String.UnicodeScalarView((0..<Int.random(in: 0..<20, using: &generator)).map { _ in
            pool.randomElement(using: &generator)!
        }))
    }

    @Test("A refresh token's body is the encoder's document and decodes back to the same token")
    func refreshTokenBody() throws {
        var generator = SystemRandomNumberGenerator()
        let encoder = StorageCodec.makeEncoder()
        for round in 0..<200 {
            let base = 1_700_000_000.0 + Double.random(in: 0..<100_000_000, using: &generator)
            // Microsecond, millisecond and whole-second times, as storage keeps them.
            let time = { (offset: Double) in
                Date(timeIntervalSince1970: ((base + offset) * [1e6, 1e3, 1][round % 3]).rounded() / [1e6, 1e3, 1][round % 3])
            }
            let token = RefreshToken(
                id: randomText(&generator), token: randomText(&generator), obsoleteToken: round % 2 == 0 ? "" : randomText(&generator),
                createdAt: time(0), lastUsed: time(1.5), clientID: randomText(&generator), connectorID: randomText(&generator),
                connectorData: round % 4 == 0 ? nil : Data((0..<Int.random(in: 0..<40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }),
                claims: Claims(userID: randomText(&generator), username: randomText(&generator), preferredUsername: randomText(&generator),
                               email: randomText(&generator), emailVerified: round % 2 == 0,
                               groups: (0..<(round % 4)).map { _ in randomText(&generator) }),
                scopes: round % 3 == 0 ? [] : ["openid", randomText(&generator)], nonce: randomText(&generator),
                authCodeID: randomText(&generator), authTime: round % 5 == 0 ? nil : time(-30)
            )
            let direct = try StorageCodec.encode(token)
            let encoded = String(decoding: try encoder.encode(token), as: UTF8.self)
            #expect(try document(direct) == document(encoded))
            #expect(try StorageCodec.decode(RefreshToken.self, from: direct) == token)
            // The direct reading is taken, and is what the decoder makes of both documents.
            #expect(RefreshToken(storageJSON: direct) == token)
            #expect(RefreshToken(storageJSON: encoded) == (try decoder.decode(RefreshToken.self, from: Data(encoded.utf8))))
        }
    }

    let decoder = StorageCodec.makeDecoder()

    /// A stored token as the encoder writes it, and as a `[String: Any]` to vary.
    func sampleToken() throws -> (token: RefreshToken, members: [String: Any]) {
        let token = RefreshToken(
            id: "id1", token: "secret", obsoleteToken: "old", createdAt: Date(timeIntervalSince1970: 1_700_000_000.25),
            lastUsed: Date(timeIntervalSince1970: 1_700_000_100.123456), clientID: "app", connectorID: "local",
            connectorData: Data([0, 1, 2, 250]),
            claims: Claims(userID: "u1", username: "jane", preferredUsername: "j", email: "jane@example.com", emailVerified: true, groups: ["a", "b"]),
            scopes: ["openid", "offline_access"], nonce: "n", authCodeID: "code", authTime: Date(timeIntervalSince1970: 1_699_999_990.5))
        let members = try #require(try JSONSerialization.jsonObject(with: Data(try StorageCodec.encode(token).utf8)) as? [String: Any])
        return (token, members)
    }

    func text(_ members: [String: Any], options: JSONSerialization.WritingOptions = [.sortedKeys]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: members, options: options), as: UTF8.self)
    }

    @Test("Bodies of another shape read exactly as the decoder reads them")
    func refreshTokenShapes() throws {
        let (token, members) = try sampleToken()
        var nulls = members
        nulls["connectorData"] = NSNull()
        nulls["authTime"] = NSNull()
        var absent = members
        absent["connectorData"] = nil
        absent["authTime"] = nil
        var extra = members
        extra["addedLater"] = "x"
        var wrongType = members
        wrongType["nonce"] = 7
        var missing = members
        missing["scopes"] = nil
        var badData = members
        badData["connectorData"] = "not base64!"
        let pretty = try text(members, options: [.prettyPrinted])
        let duplicate = try text(members).replacingOccurrences(of: #""id":"id1""#, with: #""id":"id1","id":"id2""#)
        let escaped = try text(members).replacingOccurrences(of: #""nonce":"n""#, with: #""nonce":"n""#)

        // Direct: the shapes the encoder and a pretty printer write, nulls, absent optionals, escapes.
        for body in [pretty, try text(nulls), try text(absent), escaped] {
            let direct = try #require(RefreshToken(storageJSON: body))
            #expect(direct == (try decoder.decode(RefreshToken.self, from: Data(body.utf8))))
        }
        #expect(RefreshToken(storageJSON: pretty) == token)
        // Left to the decoder, whose answer StorageCodec gives: an unknown member (ignored), a
        // member twice; and what the decoder refuses is still reported as corrupt storage.
        for body in [try text(extra), duplicate] {
            #expect(RefreshToken(storageJSON: body) == nil)
            #expect(try StorageCodec.decode(RefreshToken.self, from: body) == (try decoder.decode(RefreshToken.self, from: Data(body.utf8))))
        }
        for body in [try text(wrongType), try text(missing), try text(badData), "{}", "", #"{"id":"#] {
            #expect(RefreshToken(storageJSON: body) == nil)
            #expect(throws: StorageError.self) { try StorageCodec.decode(RefreshToken.self, from: body) }
        }
    }

    @Test("A password body reads directly as the decoder reads it; other shapes take the decoder")
    func passwordBody() throws {
        var generator = SystemRandomNumberGenerator()
        let encoder = StorageCodec.makeEncoder()
        for round in 0..<100 {
            let password = Password(
                email: randomText(&generator).lowercased(), hash: "$2a$10$" + randomText(&generator), username: randomText(&generator),
                name: randomText(&generator), preferredUsername: randomText(&generator), emailVerified: round % 2 == 0,
                userID: randomText(&generator), groups: (0..<(round % 3)).map { _ in randomText(&generator) })
            let body = String(decoding: try encoder.encode(password), as: UTF8.self)
            #expect(Password(storageJSON: body) == password)
            #expect(try StorageCodec.decode(Password.self, from: body) == password)
        }
        let plain = try StorageCodec.encode(Password(email: "a@example.com", hash: "h", username: "a", userID: "u"))
        let members = try #require(try JSONSerialization.jsonObject(with: Data(plain.utf8)) as? [String: Any])
        var extra = members
        extra["later"] = true
        #expect(Password(storageJSON: try text(extra)) == nil)
        #expect(try StorageCodec.decode(Password.self, from: try text(extra)).userID == "u")
        var missing = members
        missing["userID"] = nil
        #expect(throws: StorageError.self) { try StorageCodec.decode(Password.self, from: try text(missing)) }
    }

    @Test("A time that is not a number is refused, not written")
    func nonFinite() throws {
        let token = RefreshToken(id: "i", token: "t", createdAt: Date(timeIntervalSince1970: .infinity), lastUsed: Date(),
                                 clientID: "c", connectorID: "local", claims: Claims(userID: "u", username: "n"))
        #expect(throws: (any Error).self) { try StorageCodec.encode(token) }
    }

    @Test("A stored time out of range is corrupt storage, not a trap", arguments: ["1e300", "-1e300", "9.3e12", "1.7976931348623157e308"])
    func storedTimeOutOfRange(_ value: String) throws {
        let token = RefreshToken(id: "i", token: "t", createdAt: Date(timeIntervalSince1970: 1_700_000_000), lastUsed: Date(timeIntervalSince1970: 1_700_000_001),
                                 clientID: "c", connectorID: "local", claims: Claims(userID: "u", username: "n"))
        let body = try StorageCodec.encode(token)
        let stamp = #/1700000001(\.[0-9]+)?/#
        let damaged = body.replacing(stamp, with: value)
        #expect(damaged != body)
        // The direct reader and the decoder both refuse it as corrupt.
        #expect(RefreshToken(storageJSON: damaged) == nil)
        #expect(throws: StorageError.self) { try StorageCodec.decode(RefreshToken.self, from: damaged) }
        let request = AuthRequest(id: "r", clientID: "c", redirectURI: "https://app.example/cb", expiry: Date(timeIntervalSince1970: 1_700_000_001))
        let requestBody = try StorageCodec.encode(request).replacing(stamp, with: value)
        #expect(throws: StorageError.self) { try StorageCodec.decode(AuthRequest.self, from: requestBody) }
        #expect(StorageCodec.microseconds(Date(timeIntervalSince1970: .greatestFiniteMagnitude)) == .max)
    }
}
