import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1
import Signing

/// The two documents every relying party and kube-apiserver polls, discovery and `/keys`,
/// answered in the channel pipeline from bytes prepared at start and at key rotation.
///
/// Issue 3 asks these to be served at static-file speed. Through the router each request crosses
/// threads twice (event loop → Swift's cooperative pool → event loop) and allocates a request
/// context, a task and a response; on one core those hand-offs cost more than the whole answer.
/// So a plain `GET` of either path is answered on the event loop that read it, right after HTTP/1
/// decoding: the request is never converted to Swift HTTP Types, and the answer is one buffer
/// (the prepared status line and headers, the request's `X-Request-ID` and `Date`, the body)
/// written under the HTTP/1 encoder, as nginx writes a static file's prepared header.
/// Anything else, and any request this path would answer differently (HTTP/1.0, CORS,
/// `Connection` headers, a body, a query, an unusual request ID, requests logged at debug level),
/// goes to the router unchanged, which stays the reference behaviour: the same status, body and
/// headers (`Content-Type`, `Cache-Control`, `web.headers`, `X-Request-ID`, `Date`, `Server`).
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

    /// The endpoint this request may take the prepared path to (with the request ID it
    /// presented, to echo), or nil for the router.
    func endpoint(for head: HTTPRequestHead) -> (Endpoint, requestID: String?)? {
        guard head.method == .GET, head.version == .http1_1 else { return nil }
        let endpoint: Endpoint
        if head.uri == keysPath { endpoint = .keys } else if head.uri == discoveryPath { endpoint = .discovery } else { return nil }
        var requestID: String?
        for (name, value) in head.headers {
            switch name.utf8.count {
            case 6 where ASCII.equalsIgnoringCase(name, "origin"):
                if corsEnabled { return nil }
            case 10 where ASCII.equalsIgnoringCase(name, "connection"):
                // Keep-alive is what this path does; `close` and upgrades are the router's.
                if !ASCII.equalsIgnoringCase(value, "keep-alive") { return nil }
            case 12 where ASCII.equalsIgnoringCase(name, "x-request-id"):
                // Echoed as presented when the router would echo it unchanged: 1 to 64 visible
                // ASCII characters, inner spaces allowed (the router's HTTP Types would rewrite
                // other bytes and trim surrounding spaces).
                let bytes = value.utf8
                guard requestID == nil, (1...64).contains(bytes.count), bytes.allSatisfy({ (0x20...0x7E).contains($0) }),
                      bytes.first != 0x20, bytes.last != 0x20 else { return nil }
                requestID = value
            case 14 where ASCII.equalsIgnoringCase(name, "content-length"):
                if value != "0" { return nil }
            case 17 where ASCII.equalsIgnoringCase(name, "transfer-encoding"):
                return nil
            default:
                break
            }
        }
        return (endpoint, requestID)
    }
}

enum ASCII {
    /// `text` equals `lowercase` (given in lower case) ignoring ASCII case.
    static func equalsIgnoringCase(_ text: String, _ lowercase: StaticString) -> Bool {
        guard text.utf8.count == lowercase.utf8CodeUnitCount else { return false }
        var expected = lowercase.utf8Start
        for byte in text.utf8 {
            let folded: UInt8 = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
            if folded != expected.pointee { return false }
            expected += 1
        }
        return true
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 as Hummingbird's `.http1()`, plus the prepared path for discovery and `/keys`
    /// when `prepared` is given (it is not with metrics or debug logging on).
    static func http1(prepared: PreparedEndpoints?) -> HTTPServerBuilder {
        guard let prepared else { return .http1() }
        return .init { responder in PreparedHTTP1Channel(base: HTTP1Channel(responder: responder), endpoints: prepared) }
    }
}

/// Hummingbird's HTTP/1 child channel with two handlers added around its HTTP ⇄ HTTP Types
/// codec: `PreparedResponseHandler` right after HTTP/1 decoding, and `PreparedBytesWriter` right
/// under the HTTP/1 encoder (above TLS, when the listener has it), which writes the answers.
struct PreparedHTTP1Channel: ServerChildChannel {
    let base: HTTP1Channel
    let endpoints: PreparedEndpoints

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP1Channel.Value> {
        let endpoints = endpoints
        return base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            let writer = PreparedBytesWriter()
            try pipeline.addHandler(writer, position: .before(pipeline.handler(type: HTTPResponseEncoder.self)))
            try pipeline.addHandler(PreparedResponseHandler(endpoints: endpoints, writer: writer),
                                    position: .before(pipeline.handler(type: HTTP1ToHTTPServerCodec.self)))
            return value
        }
    }

    func handle(value: HTTP1Channel.Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// Sits under the HTTP/1 encoder; every other write passes through it unchanged.
final class PreparedBytesWriter: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var context: ChannelHandlerContext?

    var isInPipeline: Bool { context != nil }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// A whole HTTP/1 response, written below the encoder (which keeps no state between responses).
    func write(_ response: ByteBuffer) {
        guard let context else { return }
        context.write(wrapOutboundOut(response), promise: nil)
    }

    /// Runs `body` once everything written so far has reached the socket (or failed): writes
    /// complete in order, so an empty write's completion marks all before it.
    func afterPendingWrites(_ body: @escaping () -> Void) {
        guard let context else { return body() }
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: promise)
        promise.futureResult.assumeIsolated().whenComplete { _ in body() }
    }
}

/// Per connection, right after HTTP/1 decoding and before the conversion to HTTP Types.
///
/// Ordering: HTTP/1.1 answers must leave in request order. While a request handed to the router
/// has not been answered (its response `.end` has not passed outbound), later requests go to the
/// router too, so a prepared answer can never overtake one still being computed.
final class PreparedResponseHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let endpoints: PreparedEndpoints
    private let writer: PreparedBytesWriter
    /// Requests handed to the router whose response has not ended.
    private var routed = 0
    /// The request being read that will take the prepared path.
    private var pending: (PreparedEndpoints.Endpoint, requestID: String?)?
    private var needsFlush = false
    /// Set once the connection is to end (a routed request without keep-alive, or the server
    /// quiescing): from then on every request takes the router, which ends the connection.
    private var closing = false
    /// A prepared answer was written since the last end-of-input or quiesce event was passed on.
    private var answeredSinceEvent = false
    /// Status line and the headers that do not change per request (`Content-Type`,
    /// `Cache-Control` for discovery, `Content-Length`, `web.headers`, `Server`), built once per
    /// connection, and for `/keys` per key snapshot; each answer adds `X-Request-ID`, `Date` and,
    /// for `/keys`, `Cache-Control`, which counts down each second.
    private lazy var discoveryHead = head(body: endpoints.discovery, cacheControl: PreparedEndpoints.discoveryCacheControl)
    private var keysSnapshot: KeySnapshot?
    private var keysBody = ByteBuffer()
    private var keysHead: [UInt8] = []
    private var keysCacheSecond = -1
    private var keysCacheLine: [UInt8] = []
    private var dateSecond = -1
    private var dateLine: [UInt8] = []

    init(endpoints: PreparedEndpoints, writer: PreparedBytesWriter) {
        self.endpoints = endpoints
        self.writer = writer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            // Not while the client is not reading (the router's writer waits for writability and so
            // stops reading; this path must not queue answers without limit).
            if routed == 0, pending == nil, !closing, writer.isInPipeline, context.channel.isWritable,
               let prepared = endpoints.endpoint(for: head) {
                pending = prepared
                return
            }
            if !head.isKeepAlive { closing = true }
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

    /// End of input (the client half-closed) and quiescing make the router's side close the
    /// connection at once when it has nothing in flight; prepared answers still queued would be
    /// dropped. So these events are passed on once those answers have been written.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        let ends: Bool
        switch event {
        case ChannelEvent.inputClosed: ends = true
        case is ChannelShouldQuiesceEvent: ends = true; closing = true
        default: ends = false
        }
        guard ends, answeredSinceEvent else { return context.fireUserInboundEventTriggered(event) }
        answeredSinceEvent = false
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        writer.afterPendingWrites { context.fireUserInboundEventTriggered(event) }
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
        let second = Int(now.timeIntervalSince1970)
        if second != dateSecond {
            dateSecond = second
            dateLine = Array("Date: \(HTTPDate.format(epochSeconds: second))\r\n".utf8)
        }
        let body: ByteBuffer
        switch endpoint {
        case .discovery:
            body = endpoints.discovery
        case .keys:
            let snapshot = endpoints.keys.snapshot
            if snapshot !== keysSnapshot {
                keysSnapshot = snapshot
                keysBody = ByteBuffer(bytes: snapshot.jwksJSON)
                keysHead = head(body: keysBody, cacheControl: nil)
                keysCacheSecond = -1
            }
            if second != keysCacheSecond {
                keysCacheSecond = second
                keysCacheLine = Array("Cache-Control: \(PreparedEndpoints.keysCacheControl(snapshot: snapshot, now: now))\r\n".utf8)
            }
            body = keysBody
        }
        let head = endpoint == .discovery ? discoveryHead : keysHead
        var response = context.channel.allocator.buffer(capacity: head.count + keysCacheLine.count + dateLine.count + 96 + body.readableBytes)
        response.writeBytes(head)
        if endpoint == .keys { response.writeBytes(keysCacheLine) }
        response.writeStaticString("X-Request-ID: ")
        if let requestID { response.writeString(requestID) } else { IDsShort.write(into: &response) }
        response.writeStaticString("\r\n")
        response.writeBytes(dateLine)
        response.writeStaticString("\r\n")
        response.writeImmutableBuffer(body)
        writer.write(response)
        needsFlush = true
        answeredSinceEvent = true
    }

    /// The status line and fixed headers, each as HTTP Types has it (so `web.headers` values are
    /// cleaned exactly as on the router's answers).
    private func head(body: ByteBuffer, cacheControl: String?) -> [UInt8] {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        if let cacheControl { fields[.cacheControl] = cacheControl }
        fields[.contentLength] = String(body.readableBytes)
        fields[.server] = endpoints.serverName
        // `web.headers` as the router adds them: only where the answer has no such header.
        // `/keys`' `Cache-Control` is added per second, and the request ID and `Date` per answer.
        let perAnswer: [HTTPField.Name] = [.cacheControl, RequestLogMiddleware.requestIDField, .date]
        for (name, value) in endpoints.extraHeaders where fields[name] == nil && !perAnswer.contains(name) {
            fields[name] = value
        }
        var text = "HTTP/1.1 200 OK\r\n"
        for field in fields { text += "\(field.name.rawName): \(field.value)\r\n" }
        return Array(text.utf8)
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
