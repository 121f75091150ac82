import Foundation
import Hummingbird
import Logging
import Storage

/// Readiness and storage outages, for several replicas behind a load balancer.
///
/// `/healthz` (Dex's) answers whether this process can reach storage. `/healthz/ready` is the
/// readiness probe: 200 only when storage answers *and* a signing key is loaded, so a replica
/// that just started, or lost its store, is taken out of rotation instead of failing logins;
/// it needs no restart to become ready again (the check runs per probe).
extension Gateway {
    func readiness() async -> Response {
        do {
            try await storage.healthCheck()
        } catch {
            logger.warning("not ready: storage unreachable", metadata: ["error": "\(error)"])
            var response = Responses.text("Not ready: storage unavailable\n", status: .serviceUnavailable)
            response.headers[.retryAfter] = "5"
            return response
        }
        guard keys.snapshot.signer != nil else {
            var response = Responses.text("Not ready: no signing key loaded yet\n", status: .serviceUnavailable)
            response.headers[.retryAfter] = "1"
            return response
        }
        return Responses.text("Ready\n")
    }
}

/// Turns a storage outage that escapes a machine endpoint into a clean RFC 6749 §5.2
/// `temporarily_unavailable` (503 with `Retry-After`) instead of a 500: the request may be
/// retried, and nothing was decided about the grant (so never `invalid_grant`). A conflict that
/// outlived the backend's bounded retries is transient in the same way. Browser flows already
/// render their own 503 page (`Gateway.page`).
struct StorageOutageMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            throw Self.translate(error, request: request, logger: logger)
        }
    }

    /// The error a machine endpoint answers for `error`: a storage outage or an exhausted
    /// conflict becomes `temporarily_unavailable`; anything else is returned as it is.
    static func translate(_ error: any Error, request: Request, logger: Logger) -> any Error {
        guard let error = error as? StorageError, error.isUnavailable || error.isConflict else { return error }
        logger.warning("storage unavailable", metadata: ["path": .string(request.uri.path), "error": .string(error.reason)])
        return OAuthError.temporarilyUnavailable.with(description: "Storage is temporarily unavailable; retry later.")
    }
}
