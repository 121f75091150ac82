import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Prometheus
import Synchronization

/// Dex's telemetry listener (`telemetry.http`): health probes and Prometheus metrics on a port of
/// their own, so a Dex deployment's probes and scrape config keep working unchanged (the Dex
/// Helm chart probes `/healthz/live` and `/healthz/ready` on this port).
///
/// - `GET /healthz/live`: 200 `ok` while the process serves (Dex's liveness handler).
/// - `GET /healthz/ready`: the main port's readiness (storage answers and a signing key is loaded).
/// - `GET /healthz`: the storage check as JSON, 200 or 503 (Dex answers with go-sundheit's JSON).
/// - `GET /metrics`: Prometheus text: Dex's `http_requests_total`, `request_duration_seconds` and
///   `response_size_bytes` (labels `code`, `method`, `handler`; Dex's buckets) for every routed
///   request, and `fedgate_build_info`.
public final class GatewayMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()

    /// Dex's buckets (`server/server.go`).
    static let durationBuckets: [Double] = [0.25, 0.5, 1, 2.5, 5, 10]
    static let sizeBuckets: [Double] = [200, 500, 900, 1500]

    // (Descriptors are not `Sendable`, so they are made where used: once per new label set.)
    static var requests: MetricNameDescriptor {
        MetricNameDescriptor(metricName: "http_requests", unitName: "total", helpText: "Count of all HTTP requests.")
    }
    static var duration: MetricNameDescriptor {
        MetricNameDescriptor(metricName: "request_duration", unitName: "seconds", helpText: "A histogram of latencies for requests.")
    }
    static var size: MetricNameDescriptor {
        MetricNameDescriptor(metricName: "response_size", unitName: "bytes", helpText: "A histogram of response sizes for requests.")
    }

    public init(version: String) {
        registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "fedgate_build_info", unitName: "",
                                                            helpText: "A metric with a constant '1' value labeled by version and platform."),
                           labels: [("version", version), ("platform", Self.platform)]).set(to: 1)
    }

    static var platform: String {
        #if os(Linux)
        let os = "linux"
        #else
        let os = "darwin"
        #endif
        #if arch(x86_64)
        return os + "/amd64"
        #elseif arch(arm64)
        return os + "/arm64"
        #else
        return os
        #endif
    }

    /// One label set's three series, looked up once: the registry validates names and labels and
    /// takes its lock on every `make…` call.
    private struct Series: Sendable {
        let requests: Counter
        let duration: ValueHistogram
        let size: ValueHistogram
    }

    private struct SeriesKey: Hashable, Sendable {
        let handler: String
        let method: String
        let code: Int
    }

    private let series = Mutex<[SeriesKey: Series]>([:])

    /// Counts one answered request.
    func record(handler: String, method: String, code: Int, seconds: Double, bytes: Int?) {
        let key = SeriesKey(handler: handler, method: method, code: code)
        let found = series.withLock { series in
            if let found = series[key] { return found }
            let labels = [("code", String(code)), ("method", method), ("handler", handler)]
            let made = Series(
                requests: registry.makeCounter(descriptor: Self.requests, labels: labels),
                duration: registry.makeValueHistogram(descriptor: Self.duration, labels: labels, buckets: Self.durationBuckets),
                size: registry.makeValueHistogram(descriptor: Self.size, labels: labels, buckets: Self.sizeBuckets))
            series[key] = made
            return made
        }
        found.requests.increment()
        found.duration.record(seconds)
        if let bytes { found.size.record(Double(bytes)) }
    }

    /// The exposition text (Prometheus text format 0.0.4).
    func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }
}

/// Records every routed request in `GatewayMetrics`; `handler` is the route's path as declared,
/// below the issuer's path (`/token`, `/keys`, `/auth/{connector}`), as Dex labels its handlers.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let metrics: GatewayMetrics
    let issuerPath: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            record(request, context, status: error.status, start: start, bytes: nil)
            throw error
        }
        record(request, context, status: response.status, start: start, bytes: response.body.contentLength)
        return response
    }

    /// The method as Prometheus' Go client labels it (lower case); any method outside HTTP's
    /// standard ones is `other`, so a client cannot grow the number of series.
    static func methodLabel(_ method: HTTPRequest.Method) -> String {
        switch method {
        case .get, .post, .head, .put, .delete, .options, .patch, .connect, .trace: method.rawValue.lowercased()
        default: "other"
        }
    }

    private func record(_ request: Request, _ context: Context, status: HTTPResponse.Status, start: ContinuousClock.Instant, bytes: Int?) {
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var handler = context.endpointPath ?? "NotFound"
        if !issuerPath.isEmpty, handler.hasPrefix(issuerPath) {
            handler = String(handler.dropFirst(issuerPath.count))
            if handler.isEmpty { handler = "/" }
        }
        metrics.record(handler: handler, method: Self.methodLabel(request.method),
                       code: status.code, seconds: seconds, bytes: bytes)
    }
}

extension Gateway {
    /// The telemetry listener's routes.
    func telemetryRouter(metrics: GatewayMetrics) -> Router<GatewayRequestContext> {
        let router = Router(context: GatewayRequestContext.self)
        router.get("healthz/live") { _, _ in Responses.text("ok") }
        router.get("healthz/ready") { _, _ in await self.readiness() }
        router.get("healthz") { _, _ in await self.storageHealthJSON() }
        router.get("metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
        }
        return router
    }

    /// `{"storage":{"status":"ok"}}`, or 503 with `"status":"failed"` and the reason.
    func storageHealthJSON() async -> Response {
        do {
            try await storage.healthCheck()
            return Responses.json(ByteBuffer(string: #"{"storage":{"status":"ok"}}"#))
        } catch {
            logger.warning("health check failed", metadata: ["error": "\(error)"])
            return Responses.json(ByteBuffer(string: #"{"storage":{"error":"storage unavailable","status":"failed"}}"#),
                                  status: .serviceUnavailable)
        }
    }
}
