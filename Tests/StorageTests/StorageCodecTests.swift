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
        }
    }

    @Test("A time that is not a number is refused, not written")
    func nonFinite() throws {
        let token = RefreshToken(id: "i", token: "t", createdAt: Date(timeIntervalSince1970: .infinity), lastUsed: Date(),
                                 clientID: "c", connectorID: "local", claims: Claims(userID: "u", username: "n"))
        #expect(throws: (any Error).self) { try StorageCodec.encode(token) }
    }
}
