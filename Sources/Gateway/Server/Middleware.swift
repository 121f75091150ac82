import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// Gives each request an id, adds the configured `web.headers`, and logs one line per request:
/// method, path without the query (codes and tokens travel in queries), status, duration.
///
/// This runs on every request, including the static endpoints, so what can be prepared is
/// prepared once: the header names, and the clock is read only when the request line is logged.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let logger: Logger
    /// `web.headers`, names parsed once (a name that is not a valid field name is skipped).
    let extraHeaders: [(HTTPField.Name, String)]
    private let logsRequests: Bool
    /// `web.clientRemoteIP`, with its header name parsed once.
    private let clientRemoteIP: (settings: ClientRemoteIPSettings, header: HTTPField.Name)?

    static let requestIDField = HTTPField.Name("X-Request-ID")!

    init(logger: Logger, extraHeaders: [(String, String)], clientRemoteIP: ClientRemoteIPSettings? = nil) {
        self.logger = logger
        self.extraHeaders = Self.fields(extraHeaders)
        self.logsRequests = logger.logLevel <= .debug
        self.clientRemoteIP = clientRemoteIP.flatMap { settings in HTTPField.Name(settings.header).map { (settings, $0) } }
    }

    /// `web.headers` as field names (a name that is not a valid field name is skipped).
    static func fields(_ headers: [(String, String)]) -> [(HTTPField.Name, String)] {
        headers.compactMap { name, value in HTTPField.Name(name).map { ($0, value) } }
    }

    /// The client's `X-Request-ID` if it is usable (1–64 characters), else a new one.
    static func requestID(_ presented: String?) -> String {
        presented.flatMap { $0.count <= 64 && !$0.isEmpty ? $0 : nil } ?? IDsShort.make()
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let requestID = Self.requestID(request.headers[Self.requestIDField])
        context.requestID = requestID
        context.logger[metadataKey: "request_id"] = .string(requestID)
        if let (settings, header) = clientRemoteIP {
            context.remoteAddress = settings.clientAddress(peer: context.remoteAddress, header: request.headers[values: header])
        }
        let start = logsRequests ? ContinuousClock.now : nil
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        } catch {
            logger.error("unhandled error", metadata: ["request_id": .string(requestID), "error": "\(error)"])
            response = try OAuthError.serverError.response(from: request, context: context)
        }
        // As in Dex, `web.headers` are defaults: a header the handler set (a token answer's
        // `Cache-Control: no-store`, a page's `Content-Type`) is kept.
        for (name, value) in extraHeaders where response.headers[name] == nil { response.headers[name] = value }
        response.headers[Self.requestIDField] = requestID
        if let start {
            let elapsed = ContinuousClock.now - start
            let ms = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
            logger.debug("request", metadata: [
                "request_id": .string(requestID),
                "method": .string(request.method.rawValue),
                "path": .string(request.uri.path),
                "status": .stringConvertible(response.status.code),
                "duration_ms": .string(String(format: "%.2f", ms)),
                "client_remote_addr": .string(context.remoteAddress),
            ])
        }
        return response
    }
}

/// Request IDs (`X-Request-ID`) only correlate log lines: they must be unique within the process,
/// not secret. SplitMix64's finaliser over a per-process random seed plus a counter is a
/// bijection of the counter, so IDs never repeat before 2^64 requests, and no request pays a
/// `getrandom` system call (one per request before, on the static endpoints' hottest path).
enum IDsShort {
    private static let seed = UInt64.random(in: .min ... .max)
    private static let counter = Atomic<UInt64>(0)

    static func next() -> UInt64 {
        mix(seed &+ counter.wrappingAdd(1, ordering: .relaxed).newValue)
    }

    static func make() -> String {
        String(next(), radix: 16)
    }

    /// The next ID's lower-case hex digits (as `make()` spells them) written into `buffer`.
    static func write(into buffer: inout ByteBuffer) {
        let id = next()
        let digits = max(1, (64 - id.leadingZeroBitCount + 3) / 4)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: digits) { out in
            for i in 0..<digits {
                let nibble = UInt8(truncatingIfNeeded: id >> UInt64(4 * (digits - 1 - i))) & 0xF
                out[i] = nibble < 10 ? 0x30 + nibble : 0x57 + nibble
            }
            return digits
        }
    }

    /// SplitMix64's output function (Steele, Lea, Flood 2014): a bijection on UInt64.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// CORS for the machine endpoints, from `web.allowedOrigins` / `web.allowedHeaders` (Dex uses
/// gorilla's handler the same way). `*` allows any origin.
struct CORSPolicy: Sendable {
    let allowedOrigins: [String]
    let allowedHeaders: [String]

    func allowedOrigin(_ request: Request) -> String? {
        guard !allowedOrigins.isEmpty, let origin = request.headers[.origin] else { return nil }
        if allowedOrigins.contains("*") { return "*" }
        return allowedOrigins.contains(origin) ? origin : nil
    }

    func apply(_ request: Request, _ response: Response) -> Response {
        guard let origin = allowedOrigin(request) else { return response }
        var response = response
        response.headers[.accessControlAllowOrigin] = origin
        if origin != "*" { response.headers[.vary] = "Origin" }
        return response
    }

    /// Runs a machine endpoint's handler and adds the CORS headers to whatever it answers,
    /// errors included: a browser app must be able to read `invalid_grant` to know it should log
    /// in again (Dex's CORS wrapper covers every response). Without an allowed `Origin` the
    /// handler runs untouched.
    func respond(_ request: Request, _ context: GatewayRequestContext, logger: Logger,
                 _ handler: () async throws -> Response) async throws -> Response {
        guard allowedOrigin(request) != nil else { return try await handler() }
        do {
            return apply(request, try await handler())
        } catch {
            guard let answer = StorageOutageMiddleware.translate(error, request: request, logger: logger) as? any HTTPResponseError else {
                throw error
            }
            return apply(request, try answer.response(from: request, context: context))
        }
    }

    func preflight(_ request: Request) -> Response {
        guard let origin = allowedOrigin(request) else { return Response(status: .noContent) }
        let headers = (allowedHeaders.isEmpty ? ["Authorization"] : allowedHeaders).joined(separator: ", ")
        var response = Response(status: .noContent)
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.accessControlAllowMethods] = "GET, POST, OPTIONS"
        response.headers[.accessControlAllowHeaders] = headers
        response.headers[.accessControlMaxAge] = "600"
        if origin != "*" { response.headers[.vary] = "Origin" }
        return response
    }
}
