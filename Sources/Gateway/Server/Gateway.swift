import ClaimMapping
import Connectors
import FedgateCore
import Foundation
import Hummingbird
import Logging
import NIOCore
import Signing
import Storage

/// The OpenID Connect provider: holds the opened connectors, storage, keys and pages, and
/// answers every route under the issuer's path.
///
/// Data flows one way: request -> Gateway -> Connector -> upstream identity -> ClaimMapping ->
/// claims -> Gateway signs -> Storage persists.
public final class Gateway: Sendable {
    let settings: Settings
    let storage: any GatewayStorage
    let keys: KeyManager
    let connectors: ConnectorSet
    let pages: Pages
    let logger: Logger
    let now: @Sendable () -> Date
    /// The discovery document, encoded once at start (it never changes while running).
    let discoveryJSON: ByteBuffer
    let throttler: LoginThrottler

    init(settings: Settings, storage: any GatewayStorage, keys: KeyManager, connectors: ConnectorSet,
         pages: Pages, logger: Logger, now: @escaping @Sendable () -> Date = Date.init) throws {
        self.settings = settings
        self.storage = storage
        self.keys = keys
        self.connectors = connectors
        self.pages = pages
        self.logger = logger
        self.now = now
        self.discoveryJSON = ByteBuffer(bytes: try Discovery.document(settings: settings))
        self.throttler = LoginThrottler(storage: storage, policy: settings.passwordPolicy, now: now)
    }

    /// Builds the router: every route is mounted under the issuer's path.
    /// - Parameter metrics: with the telemetry listener configured, every routed request is counted.
    public func router(metrics: GatewayMetrics? = nil) -> Router<GatewayRequestContext> {
        let router = Router(context: GatewayRequestContext.self)
        if let metrics { router.add(middleware: MetricsMiddleware(metrics: metrics, issuerPath: settings.issuerPath)) }
        router.add(middleware: RequestLogMiddleware(logger: logger, extraHeaders: settings.extraHeaders,
                                                    clientRemoteIP: settings.clientRemoteIP))
        router.add(middleware: StorageOutageMiddleware(logger: logger))
        let cors = CORSPolicy(allowedOrigins: settings.allowedOrigins, allowedHeaders: settings.allowedHeaders)
        let base = router.group(RouterPath(settings.issuerPath.isEmpty ? "" : String(settings.issuerPath.dropFirst())))

        // Machine endpoints, with CORS (Dex: discovery, keys, token, userinfo).
        base.get(".well-known/openid-configuration") { req, _ in cors.apply(req, Responses.json(self.discoveryJSON, cacheControl: PreparedEndpoints.discoveryCacheControl)) }
        base.get("keys") { req, _ in cors.apply(req, self.keysResponse()) }
        base.post("token") { req, ctx in try await cors.respond(req, ctx, logger: self.logger) { try await self.handleToken(req, ctx) } }
        base.post("token/revoke") { req, ctx in try await cors.respond(req, ctx, logger: self.logger) { try await self.handleRevoke(req, ctx) } }
        base.post("token/introspect") { req, ctx in try await cors.respond(req, ctx, logger: self.logger) { try await self.handleIntrospect(req, ctx) } }
        base.get("userinfo") { req, ctx in try await cors.respond(req, ctx, logger: self.logger) { try await self.handleUserInfo(req, ctx) } }
        base.post("userinfo") { req, ctx in try await cors.respond(req, ctx, logger: self.logger) { try await self.handleUserInfo(req, ctx) } }
        for path in [".well-known/openid-configuration", "keys", "token", "token/revoke", "token/introspect", "userinfo"] {
            base.on(RouterPath(path), method: .options) { req, _ in cors.preflight(req) }
        }

        // Browser flows.
        base.get("auth") { req, ctx in await self.page { try await self.handleAuthorize(req, ctx) } }
        base.post("auth") { req, ctx in await self.page { try await self.handleAuthorize(req, ctx) } }
        base.get("auth/:connector") { req, ctx in await self.page { try await self.handleConnectorLogin(req, ctx) } }
        base.get("auth/:connector/login") { req, ctx in await self.page { try await self.handlePasswordPage(req, ctx) } }
        base.post("auth/:connector/login") { req, ctx in await self.page { try await self.handlePasswordLogin(req, ctx) } }
        base.get("callback") { req, ctx in await self.page { try await self.handleCallback(req, ctx) } }
        base.post("callback") { req, ctx in await self.page { try await self.handleCallback(req, ctx) } }
        base.get("approval") { req, ctx in await self.page { try await self.handleApprovalPage(req, ctx) } }
        base.post("approval") { req, ctx in await self.page { try await self.handleApproval(req, ctx) } }

        // Operations and assets.
        base.get("healthz") { _, _ in await self.health() }
        base.get("healthz/ready") { _, _ in await self.readiness() }
        base.get("static/**") { req, ctx in self.asset("static/" + ctx.parameters.getCatchAll().joined(separator: "/")) }
        base.get("theme/**") { req, ctx in self.asset("theme/" + ctx.parameters.getCatchAll().joined(separator: "/")) }
        base.get("robots.txt") { _, _ in self.asset("static/robots.txt") }
        return router
    }

    /// Discovery and `/keys` for the channel pipeline (`PreparedResponseHandler`), or nil when
    /// requests are logged at debug level: then every request takes the router and is logged.
    func preparedEndpoints(serverName: String) -> PreparedEndpoints? {
        guard logger.logLevel > .debug else { return nil }
        return PreparedEndpoints(
            discoveryPath: settings.path("/.well-known/openid-configuration"),
            keysPath: settings.path("/keys"),
            discovery: discoveryJSON,
            keys: keys,
            extraHeaders: RequestLogMiddleware.fields(settings.extraHeaders),
            corsEnabled: !settings.allowedOrigins.isEmpty,
            serverName: serverName,
            now: now
        )
    }

    // MARK: - Shared pieces

    /// Runs a browser-flow handler and turns failures into the error page.
    func page(_ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch let e as PageError {
            var response = Responses.html(pages.error(title: e.title, message: e.message), status: e.status)
            if let r = e.retryAfter { response.headers[.retryAfter] = String(r) }
            return response
        } catch let e as StorageError where e.isUnavailable {
            logger.error("storage unavailable", metadata: ["error": "\(e.reason)"])
            var response = Responses.html(pages.error(title: "Service Unavailable", message: "The login service is temporarily unavailable. Please try again in a moment."), status: .serviceUnavailable)
            response.headers[.retryAfter] = "5"
            return response
        } catch {
            logger.error("request failed", metadata: ["error": "\(error)"])
            return Responses.html(pages.error(title: "Internal Server Error", message: "Something went wrong on our side. Please try again."), status: .internalServerError)
        }
    }

    func keysResponse() -> Response {
        let snapshot = keys.snapshot
        return Response(
            status: .ok,
            headers: [.contentType: "application/json", .cacheControl: PreparedEndpoints.keysCacheControl(snapshot: snapshot, now: now())],
            body: .init(byteBuffer: ByteBuffer(bytes: snapshot.jwksJSON))
        )
    }

    func health() async -> Response {
        do {
            try await storage.healthCheck()
            return Responses.text("Health check passed\n")
        } catch {
            logger.warning("health check failed", metadata: ["error": "\(error)"])
            return Responses.text("Health check failed: storage unavailable\n", status: .serviceUnavailable)
        }
    }

    func asset(_ path: String) -> Response {
        guard let asset = pages.asset(path) else { return Responses.text("404 page not found\n", status: .notFound) }
        return Response(
            status: .ok,
            headers: [.contentType: asset.contentType, .cacheControl: "public, max-age=3600"],
            body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes))
        )
    }

    /// Reads a form body (POST) merged over the query string.
    func parameters(_ request: Request, _ context: GatewayRequestContext, includeQuery: Bool = true) async throws -> FormParameters {
        var params = includeQuery ? FormParameters(encoded: request.uri.query ?? "") : FormParameters()
        if request.method == .post {
            var req = request
            let body: ByteBuffer
            do {
                body = try await req.collectBody(upTo: context.maxUploadSize)
            } catch {
                throw OAuthError.invalidRequest.with(description: "Request body too large.")
            }
            let form = FormParameters(encoded: String(buffer: body))
            params = includeQuery ? params.merging(form) : form
        }
        return params
    }

    /// `parameters` for the browser flows: an oversized body is the error page, not JSON.
    func pageParameters(_ request: Request, _ context: GatewayRequestContext) async throws -> FormParameters {
        do { return try await parameters(request, context) } catch { throw PageError.badRequest("The request body is too large.") }
    }

    func query(_ request: Request) -> FormParameters { FormParameters(encoded: request.uri.query ?? "") }
}
