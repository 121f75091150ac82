import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Small response builders shared by the routes.
enum Responses {
    static func html(_ body: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: body))
        )
    }

    static func json(_ bytes: ByteBuffer, status: HTTPResponse.Status = .ok, cacheControl: String = "no-store") -> Response {
        Response(status: status, headers: [.contentType: "application/json", .cacheControl: cacheControl],
                 body: .init(byteBuffer: bytes))
    }

    /// JSON that must not be cached (RFC 6749 §5.1): `Cache-Control: no-store`, `Pragma: no-cache`.
    static func noStoreJSON(_ bytes: ByteBuffer, status: HTTPResponse.Status = .ok) -> Response {
        var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
        headers[pragma] = "no-cache"
        return Response(status: status, headers: headers, body: .init(byteBuffer: bytes))
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, cacheControl: String = "no-store") throws -> Response {
        let data = try JSONEncoder.sorted.encode(value)
        if cacheControl == "no-store" { return noStoreJSON(ByteBuffer(bytes: data), status: status) }
        return Response(status: status, headers: [.contentType: "application/json", .cacheControl: cacheControl],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    private static let pragma = HTTPField.Name("Pragma")!

    /// 303 See Other, so a POSTed form is followed by a GET (RFC 9110 §15.4.4).
    static func redirect(_ location: String, status: HTTPResponse.Status = .seeOther) -> Response {
        Response(status: status, headers: [.location: location, .cacheControl: "no-store"])
    }

    static func text(_ body: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// A failure in a browser flow, shown as the error page (never a redirect to an unverified URI).
struct PageError: Error, Sendable {
    var status: HTTPResponse.Status
    var title: String
    var message: String
    var retryAfter: Int? = nil

    static func badRequest(_ message: String) -> PageError { .init(status: .badRequest, title: "Bad Request", message: message) }
    static func notFound(_ message: String) -> PageError { .init(status: .notFound, title: "Not Found", message: message) }
    static func server(_ message: String = "Something went wrong on our side. Please try again.") -> PageError {
        .init(status: .internalServerError, title: "Internal Server Error", message: message)
    }
    static func unavailable(_ message: String) -> PageError {
        .init(status: .serviceUnavailable, title: "Service Unavailable", message: message, retryAfter: 5)
    }
}
