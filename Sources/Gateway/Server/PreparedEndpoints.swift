import Foundation
import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Signing

/// The two documents every relying party and kube-apiserver polls, discovery and `/keys`,
/// answered in the channel pipeline from bytes prepared at start and at key rotation.
///
/// Issue 3 asks these to be served at static-file speed. Through the router each request crosses
/// threads twice (event loop → Swift's cooperative pool → event loop) and allocates a request
/// context, a task and a response; on one core those hand-offs cost more than the whole answer.
/// `PreparedResponseHandler` answers a plain `GET` of either path on the event loop that read it.
/// Anything else, and any request this path would answer differently (CORS, `Connection`
/// headers, a body, a query, requests logged at debug level), goes to the router unchanged, which
/// stays the reference behaviour: the same status, body and headers (`Content-Type`,
/// `Cache-Control`, `web.headers`, `X-Request-ID`, `Date`, `Server`).
struct PreparedEndpoints: Sendable {
    let discoveryPath: String
    let keysPath: String
    let discovery: ByteBuffer
    let keys: KeyManager
    /// `web.headers`, added to every response as `RequestLogMiddleware` does.
    let extraHeaders: [(HTTPField.Name, String)]
    /// With `web.allowedOrigins`, a request carrying `Origin` takes the router (CORS headers).
    let corsEnabled: Bool
    let serverName: String
    let now: @Sendable () -> Date

    static let discoveryCacheControl = "public, max-age=3600"

    /// `/keys`' `Cache-Control`: until the next rotation, at most a day (the router's rule).
    static func keysCacheControl(snapshot: KeySnapshot, now: Date) -> String {
        let maxAge = max(0, min(Int(snapshot.nextRotation.timeIntervalSince(now)), 86400))
        return "max-age=\(maxAge), must-revalidate"
    }

    enum Endpoint { case discovery, keys }

    /// The endpoint this request may take the prepared path to, or nil for the router.
    func endpoint(for request: HTTPRequest) -> Endpoint? {
        guard request.method == .get, let path = request.path else { return nil }
        let endpoint: Endpoint
        if path == keysPath { endpoint = .keys } else if path == discoveryPath { endpoint = .discovery } else { return nil }
        let fields = request.headerFields
        // Keep-alive is what this path does; `close` and upgrades are the router's to handle.
        if let connection = fields[.connection], connection.lowercased() != "keep-alive" { return nil }
        if fields[.transferEncoding] != nil { return nil }
        if let length = fields[.contentLength], length != "0" { return nil }
        if corsEnabled, fields[.origin] != nil { return nil }
        return endpoint
    }
}

/// Per connection; sits after HTTP decoding and before Hummingbird's connection handling.
///
/// Ordering: HTTP/1.1 answers must leave in request order. While a request handed to the router
/// has not been answered (its response `.end` has not passed outbound), later requests go to the
/// router too, so a prepared answer can never overtake one still being computed.
final class PreparedResponseHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let endpoints: PreparedEndpoints
    /// Requests handed to the router whose response has not ended.
    private var routed = 0
    /// The request being read that will take the prepared path.
    private var pending: (PreparedEndpoints.Endpoint, requestID: String?)?
    private var needsFlush = false
    /// `/keys` bytes of the last snapshot this connection served (rebuilt when keys rotate).
    private var keysSnapshot: KeySnapshot?
    private var keysBody = ByteBuffer()
    private var dateSecond = -1
    private var dateValue = ""
    /// Headers that do not change per request, built once per connection (and per key snapshot
    /// for `/keys`); each answer sets `X-Request-ID`, `Date` and, for `/keys`, `Cache-Control`.
    private lazy var discoveryFields = fixedFields(body: endpoints.discovery, cacheControl: PreparedEndpoints.discoveryCacheControl)
    private var keysFields = HTTPFields()
    /// `/keys`' Cache-Control counts down each second; formatted once per second.
    private var keysCacheSecond = -1

    init(endpoints: PreparedEndpoints) {
        self.endpoints = endpoints
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            if routed == 0, pending == nil, let endpoint = endpoints.endpoint(for: request) {
                pending = (endpoint, request.headerFields[RequestLogMiddleware.requestIDField])
                return
            }
            routed += 1
            context.fireChannelRead(data)
        case .body:
            // Only requests without a body (no Transfer-Encoding, Content-Length 0 or none) take
            // the prepared path, so a body part never belongs to one.
            if pending == nil { context.fireChannelRead(data) }
        case .end:
            guard let (endpoint, requestID) = pending else { return context.fireChannelRead(data) }
            pending = nil
            respond(context: context, endpoint: endpoint, requestID: requestID)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), routed > 0 { routed -= 1 }
        context.write(data, promise: promise)
    }

    private func respond(context: ChannelHandlerContext, endpoint: PreparedEndpoints.Endpoint, requestID: String?) {
        let now = endpoints.now()
        let requestID = RequestLogMiddleware.requestID(requestID)
        let date = httpDate(now)
        // The per-connection header sets are updated in place: once the head is written (the
        // codec converts it at once), this handler holds their only reference again, so no
        // answer copies them.
        let body: ByteBuffer
        let head: HTTPResponse
        switch endpoint {
        case .discovery:
            body = endpoints.discovery
            discoveryFields[RequestLogMiddleware.requestIDField] = requestID
            discoveryFields[.date] = date
            head = HTTPResponse(status: .ok, headerFields: discoveryFields)
        case .keys:
            let snapshot = endpoints.keys.snapshot
            let second = Int(now.timeIntervalSince1970)
            if snapshot !== keysSnapshot {
                keysSnapshot = snapshot
                keysBody = ByteBuffer(bytes: snapshot.jwksJSON)
                keysFields = fixedFields(body: keysBody, cacheControl: nil)
                keysCacheSecond = -1
            }
            if second != keysCacheSecond {
                keysCacheSecond = second
                keysFields[.cacheControl] = PreparedEndpoints.keysCacheControl(snapshot: snapshot, now: now)
            }
            body = keysBody
            keysFields[RequestLogMiddleware.requestIDField] = requestID
            keysFields[.date] = date
            head = HTTPResponse(status: .ok, headerFields: keysFields)
        }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.write(wrapOutboundOut(.end(nil)), promise: nil)
        needsFlush = true
    }

    private func fixedFields(body: ByteBuffer, cacheControl: String?) -> HTTPFields {
        var fields = HTTPFields()
        fields.reserveCapacity(7 + endpoints.extraHeaders.count)
        fields[.contentType] = "application/json"
        if let cacheControl { fields[.cacheControl] = cacheControl }
        fields[.contentLength] = String(body.readableBytes)
        for (name, value) in endpoints.extraHeaders { fields[name] = value }
        fields[.server] = endpoints.serverName
        return fields
    }

    /// IMF-fixdate (RFC 9110 §5.6.7), formatted once per second per connection.
    private func httpDate(_ date: Date) -> String {
        let second = Int(date.timeIntervalSince1970)
        if second != dateSecond {
            dateSecond = second
            dateValue = HTTPDate.format(epochSeconds: second)
        }
        return dateValue
    }
}

/// The `Date` header's IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 §5.6.7).
enum HTTPDate {
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func format(epochSeconds: Int) -> String {
        var t = time_t(epochSeconds)
        var tm = tm()
        gmtime_r(&t, &tm)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(days[Int(tm.tm_wday)]), \(two(tm.tm_mday)) \(months[Int(tm.tm_mon)]) \(tm.tm_year + 1900) \(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec)) GMT"
    }
}
