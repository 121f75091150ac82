import FedgateCore
import Foundation
import Hummingbird
import NIOCore
import Storage

/// `POST /token` (RFC 6749 §3.2): authenticates the client, then dispatches on `grant_type`.
/// The shared steps live here so no grant can forget one.
extension Gateway {
    func handleToken(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let params = try await parameters(request, context, includeQuery: false)
        if let longest = params.longestValue, longest.length > Settings.maxParameterLength {
            throw OAuthError.invalidRequest.with(description: "Parameter \(longest.key) is too long.")
        }
        if !params.duplicates.isEmpty {
            throw OAuthError.invalidRequest.with(description: "Parameter \(params.duplicates[0]) was given more than once.")
        }
        guard let grantType = params["grant_type"] else {
            throw OAuthError.invalidRequest.with(description: "Missing grant_type parameter.")
        }
        guard settings.grantTypes.contains(grantType) else {
            throw OAuthError.unsupportedGrantType.with(description: "Unsupported grant type \"\(grantType)\".")
        }
        let client = try await authenticateClient(request, params)
        let response: TokenResponse
        switch grantType {
        case "authorization_code": response = try await authorizationCodeGrant(params, client: client, context: context)
        case "refresh_token": response = try await refreshTokenGrant(params, client: client, context: context)
        case "password": response = try await passwordGrant(params, client: client, context: context)
        default: throw OAuthError.unsupportedGrantType.with(description: "Unsupported grant type \"\(grantType)\".")
        }
        return Responses.noStoreJSON(ByteBuffer(bytes: response.jsonBytes()))
    }

    /// Client authentication (RFC 6749 §2.3.1): HTTP Basic with form-urlencoded id and secret, or
    /// `client_id`/`client_secret` in the body. Public clients present no secret.
    func authenticateClient(_ request: Request, _ params: FormParameters) async throws -> Client {
        var clientID = params["client_id"]
        var secret = params["client_secret"]
        var usedBasic = false
        if let header = request.headers[.authorization], let credentials = Self.basicCredentials(header) {
            usedBasic = true
            guard let data = Data(base64Encoded: Data(credentials.utf8)),
                  let decoded = String(data: data, encoding: .utf8), let colon = decoded.firstIndex(of: ":") else {
                throw OAuthError(code: "invalid_client", description: "Malformed Basic authorization header.",
                                 status: .unauthorized, wwwAuthenticate: "Basic realm=\"fedgate\"")
            }
            let id = FormParameters.decode(decoded[..<colon]) ?? ""
            let pass = FormParameters.decode(decoded[decoded.index(after: colon)...]) ?? ""
            if let bodyID = clientID, bodyID != id {
                throw OAuthError.invalidRequest.with(description: "client_id in the body does not match the Authorization header.")
            }
            clientID = id
            secret = pass
        }
        let challenge = usedBasic ? "Basic realm=\"fedgate\"" : nil
        guard let clientID, !clientID.isEmpty else {
            throw OAuthError(code: "invalid_client", description: "Missing client credentials.", status: .unauthorized, wwwAuthenticate: "Basic realm=\"fedgate\"")
        }
        let client: Client
        do { client = try await storage.getClient(id: clientID) } catch let e as StorageError where e.isNotFound {
            throw OAuthError(code: "invalid_client", description: "Invalid client credentials.", status: .unauthorized, wwwAuthenticate: challenge)
        }
        if client.isPublic {
            // Dex: public clients send no (or an empty) secret.
            return client
        }
        guard let secret, !client.secret.isEmpty, ConstantTime.equals(secret, client.secret) else {
            throw OAuthError(code: "invalid_client", description: "Invalid client credentials.", status: .unauthorized, wwwAuthenticate: challenge)
        }
        return client
    }

    /// The credentials of `Basic <credentials>` (scheme case-insensitive, RFC 9110 §11.1), with
    /// surrounding spaces and tabs removed; nil for another scheme.
    static func basicCredentials(_ header: String) -> Substring? {
        let utf8 = header.utf8
        guard utf8.count >= 6, utf8.prefix(6).elementsEqual("basic ".utf8, by: { (c, e) in
            (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") ? c | 0x20 : c) == e }) else { return nil }
        return Substring(header.utf8.dropFirst(6)).trimmingOptionalWhitespace
    }
}

extension Substring {
    /// Without the optional whitespace around it (spaces and tabs, RFC 9110 §5.6.3).
    var trimmingOptionalWhitespace: Substring {
        let isBlank = { (c: UInt8) in c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") }
        var rest = utf8[...]
        while let first = rest.first, isBlank(first) { rest = rest.dropFirst() }
        while let last = rest.last, isBlank(last) { rest = rest.dropLast() }
        return Substring(rest)
    }
}

/// The successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
struct TokenResponse: Encodable, Sendable {
    var access_token: String
    var token_type: String = "bearer"
    var expires_in: Int
    var refresh_token: String?
    var id_token: String?
    var scope: String?

    /// The response body: what `JSONEncoder.sorted` makes of this value, written directly (it is
    /// on every grant; `TokenResponseTests` checks the two agree).
    func jsonBytes() -> [UInt8] {
        JSONWriter.object { json in
            json.member("access_token", access_token)
            json.member("expires_in", Int64(expires_in))
            json.member("id_token", ifPresent: id_token)
            json.member("refresh_token", ifPresent: refresh_token)
            json.member("scope", ifPresent: scope)
            json.member("token_type", token_type)
        }
    }
}
