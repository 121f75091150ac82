import Foundation
import Testing
@testable import Gateway

@Suite("Token response body")
struct TokenResponseTests {
    @Test("jsonBytes writes what JSONEncoder.sorted writes")
    func directWriterMatchesEncoder() throws {
        let variants = [
            TokenResponse(access_token: "eyJh.eyJi.c2ln", expires_in: 86400, refresh_token: "ChlyZWZyZXNo", id_token: "eyJh.eyJp.c2ln"),
            TokenResponse(access_token: "a", expires_in: 0),
            TokenResponse(access_token: "a/b+c\"d\\", expires_in: 3600, id_token: "i", scope: "openid email"),
        ]
        for response in variants {
            let direct = response.jsonBytes()
            let encoded = try JSONEncoder.sorted.encode(response)
            #expect(NSDictionary(dictionary: try #require(try JSONSerialization.jsonObject(with: Data(direct)) as? [String: Any]))
                == NSDictionary(dictionary: try #require(try JSONSerialization.jsonObject(with: encoded) as? [String: Any])))
        }
        #expect(String(decoding: variants[1].jsonBytes(), as: UTF8.self) == #"{"access_token":"a","expires_in":0,"token_type":"bearer"}"#)
    }
}

@Suite("Basic client credentials")
struct BasicCredentialsTests {
    @Test("The scheme is case-insensitive, blanks around the credentials go, other schemes are not Basic")
    func parsing() {
        #expect(Gateway.basicCredentials("Basic YTpi") == "YTpi")
        #expect(Gateway.basicCredentials("bAsIc \t YTpi \t") == "YTpi")
        #expect(Gateway.basicCredentials("Basic ") == "")
        #expect(Gateway.basicCredentials("Bearer YTpi") == nil)
        #expect(Gateway.basicCredentials("Basic") == nil)
        #expect(Gateway.basicCredentials("Basicx YTpi") == nil)
    }
}
