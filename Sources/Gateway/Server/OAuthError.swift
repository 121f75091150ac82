import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An OAuth 2.0 error answered as JSON (RFC 6749 §5.2), with fosite-style prototypes.
///
/// `status` follows the RFC: 400 for request problems, 401 for client authentication failures,
/// 503 when an upstream or storage is unavailable (with `Retry-After`).
public struct OAuthError: Error, HTTPResponseError, Sendable, Equatable, CustomStringConvertible {
    public var code: String
    public var errorDescription: String
    public var status: HTTPResponse.Status
    /// Set when the client authenticated with HTTP Basic: RFC 6749 §5.2 asks for `WWW-Authenticate`.
    public var wwwAuthenticate: String?
    public var retryAfter: Int?

    public init(code: String, description: String = "", status: HTTPResponse.Status = .badRequest,
                wwwAuthenticate: String? = nil, retryAfter: Int? = nil) {
        self.code = code
        self.errorDescription = description
        self.status = status
        self.wwwAuthenticate = wwwAuthenticate
        self.retryAfter = retryAfter
    }

    public func with(description: String) -> OAuthError {
        var copy = self
        copy.errorDescription = description
        return copy
    }

    public static let invalidRequest = OAuthError(code: "invalid_request")
    public static let invalidClient = OAuthError(code: "invalid_client", status: .unauthorized)
    public static let invalidGrant = OAuthError(code: "invalid_grant")
    public static let unauthorizedClient = OAuthError(code: "unauthorized_client")
    public static let unsupportedGrantType = OAuthError(code: "unsupported_grant_type")
    public static let invalidScope = OAuthError(code: "invalid_scope")
    public static let accessDenied = OAuthError(code: "access_denied", status: .forbidden)
    public static let serverError = OAuthError(code: "server_error", status: .internalServerError)
    public static let temporarilyUnavailable = OAuthError(code: "temporarily_unavailable", status: .serviceUnavailable, retryAfter: 5)
    public static let invalidToken = OAuthError(code: "invalid_token", status: .unauthorized)
    public static let unsupportedTokenType = OAuthError(code: "unsupported_token_type")

    public var description: String { errorDescription.isEmpty ? code : "\(code): \(errorDescription)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var body: [String: String] = ["error": code]
        if !errorDescription.isEmpty { body["error_description"] = errorDescription }
        let data = (try? JSONEncoder.sorted.encode(body)) ?? Data("{\"error\":\"server_error\"}".utf8)
        var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store", HTTPField.Name("Pragma")!: "no-cache"]
        if let wwwAuthenticate { headers[.wwwAuthenticate] = wwwAuthenticate }
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension JSONEncoder {
    /// Deterministic key order, `/` not escaped: what every JSON answer of the gateway uses.
    static var sorted: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}
