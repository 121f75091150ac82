import Hummingbird
import Logging
import NIOCore

/// The request context every route sees: the peer address (for brute-force limits and logs) and
/// a request id (taken from `X-Request-ID` when a proxy set one, else generated).
public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's address, or the client's behind trusted proxies (`web.clientRemoteIP`, set by
    /// `RequestLogMiddleware`).
    public var remoteAddress: String
    public var requestID: String = ""

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// Bodies are form posts: nothing legitimate comes near this, so refuse early (413).
    public var maxUploadSize: Int { 64 * 1024 }
}
