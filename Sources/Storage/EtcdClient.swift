import Foundation
import Logging

/// etcd's v3 API over its JSON gateway (`POST /v3/kv/range`, `/v3/kv/txn`, `/v3/kv/deleterange`,
/// `/v3/auth/authenticate`), through `CurlClient`.
///
/// Why the gateway and libcurl rather than gRPC: grpc-swift is not a dependency of this package,
/// and etcd serves the same API as JSON on its client port (every etcd since 3.3, under `/v3/`),
/// with the same revisions and transactions. libcurl is already linked, does TLS with client
/// certificates through the system OpenSSL, and keeps connections alive.
///
/// Failover: requests go to the endpoint that last answered; when it is unreachable, has no
/// leader, or is otherwise unavailable, the next endpoint is tried, for two rounds. A request
/// that may already have been applied (a timeout after it was sent, a "request timed out" from
/// the server) is only resent if it is idempotent; otherwise `EtcdOutcomeUnknown` tells the
/// caller to find out by reading.
final class EtcdClient: Sendable {
    struct Endpoint: Sendable {
        let baseURL: String
        let connectTo: [String]
    }

    let options: EtcdOptions
    let endpoints: [Endpoint]
    let logger: Logger
    private let curl: CurlClient
    private let state = EtcdClientState()

    init(options: EtcdOptions, logger: Logger) throws {
        guard !options.endpoints.isEmpty else { throw StorageError.unavailable("etcd: no endpoints configured") }
        self.options = options
        self.logger = logger
        self.endpoints = try options.endpoints.map { try Self.endpoint($0, serverName: options.serverName) }
        self.curl = try CurlClient(name: "fedgate-etcd", tls: .init(caFile: options.caFile, certFile: options.certFile,
                                                                     keyFile: options.keyFile))
    }

    /// Parses `http(s)://host:port` (a bare `host:port` means http, as in etcd's client).
    static func endpoint(_ text: String, serverName: String?) throws -> Endpoint {
        let withScheme = text.contains("://") ? text : "http://" + text
        guard let components = URLComponents(string: withScheme), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty else {
            throw StorageError.unavailable("etcd: invalid endpoint \"\(text)\" (want http(s)://host:port)")
        }
        let port = components.port ?? 2379
        let bracketed = host.contains(":") ? "[\(host)]" : host
        if scheme == "https", let serverName, !serverName.isEmpty, serverName != host {
            // Connect to the endpoint's address but verify (and send SNI for) serverName.
            return Endpoint(baseURL: "https://\(serverName):\(port)", connectTo: ["\(serverName):\(port):\(bracketed):\(port)"])
        }
        return Endpoint(baseURL: "\(scheme)://\(bracketed):\(port)", connectTo: [])
    }

    func close() { curl.shutdown() }

    // MARK: KV

    func range(_ request: EtcdMessages.RangeRequest) async throws -> EtcdMessages.RangeResponse {
        try await call("/v3/kv/range", request, idempotent: true)
    }

    func txn(_ request: EtcdMessages.TxnRequest) async throws -> EtcdMessages.TxnResponse {
        let readOnly = (request.success + request.failure).allSatisfy { $0.request_range != nil }
        return try await call("/v3/kv/txn", request, idempotent: readOnly)
    }

    func deleteRange(_ request: EtcdMessages.DeleteRangeRequest) async throws -> EtcdMessages.DeleteRangeResponse {
        try await call("/v3/kv/deleterange", request, idempotent: false)
    }

    // MARK: Transport

    private func call<Request: Encodable, Response: Decodable>(
        _ path: String, _ request: Request, idempotent: Bool
    ) async throws -> Response {
        let body = try JSONEncoder().encode(request)
        var lastProblem = "no endpoint tried"
        let first = state.preferred
        for round in 0..<2 {
            if round > 0 { try? await Task.sleep(for: .milliseconds(300)) }
            for offset in 0..<endpoints.count {
                let index = (first + offset) % endpoints.count
                do {
                    let data = try await send(path, body, to: index, idempotent: idempotent)
                    state.preferred = index
                    do {
                        return try JSONDecoder().decode(Response.self, from: data)
                    } catch {
                        throw StorageError.unavailable("etcd: unexpected answer to \(path): \(error)")
                    }
                } catch let failure as EtcdEndpointFailure {
                    lastProblem = "\(endpoints[index].baseURL): \(failure.message)"
                    logger.debug("etcd endpoint failed", metadata: ["endpoint": "\(endpoints[index].baseURL)",
                                                                    "error": "\(failure.message)"])
                }
            }
        }
        throw StorageError.unavailable("etcd: no endpoint answered (\(lastProblem))")
    }

    /// One request to one endpoint, re-authenticating once if the token expired. Throws
    /// `EtcdEndpointFailure` when another endpoint should be tried.
    private func send(_ path: String, _ body: Data, to index: Int, idempotent: Bool) async throws -> Data {
        var reauthenticated = false
        while true {
            let token = try await authToken(at: index)
            var headers = ["Content-Type: application/json"]
            if let token { headers.append("Authorization: \(token)") }
            let response = try await post(path, body, to: index, headers: headers, idempotent: idempotent)
            if response.status == 200 { return response.body }
            let error = try? JSONDecoder().decode(EtcdMessages.ErrorBody.self, from: response.body)
            let message = error?.message ?? error?.error ?? "HTTP \(response.status)"
            switch error?.code {
            case 16 where !options.username.isEmpty && !reauthenticated:
                // Unauthenticated: simple tokens expire after inactivity (`--auth-token-ttl`).
                state.token = nil
                reauthenticated = true
                continue
            case 14, 4, 8:
                // Unavailable / DeadlineExceeded / ResourceExhausted: no leader, leader changed,
                // server stopped, timed out, overloaded. Only "no leader" and "too many requests"
                // are refused before the write is proposed; after any other, a write may have
                // been applied, and resending it could apply it twice (its caller re-reads).
                if !idempotent, !Self.refusedBeforeProposal(code: error?.code, message: message) {
                    throw EtcdOutcomeUnknown(message: message)
                }
                throw EtcdEndpointFailure(message: message)
            default:
                if response.status >= 500 && error == nil {
                    // Not etcd's own answer (a proxy's 502/504): the write may have reached etcd.
                    if !idempotent { throw EtcdOutcomeUnknown(message: message) }
                    throw EtcdEndpointFailure(message: message)
                }
                throw StorageError.unavailable("etcd: \(message)")
            }
        }
    }

    /// Whether etcd refused a request before proposing it to the cluster, so a write certainly
    /// did not happen: `etcdserver: no leader` (Unavailable) and `too many requests`
    /// (ResourceExhausted). Leader changes, a stopping server and timeouts may follow a proposal.
    static func refusedBeforeProposal(code: Int?, message: String) -> Bool {
        code == 8 || (code == 14 && message.contains("no leader"))
    }

    private func post(_ path: String, _ body: Data, to index: Int, headers: [String], idempotent: Bool) async throws -> CurlClient.Response {
        let endpoint = endpoints[index]
        let request = CurlClient.Request(url: endpoint.baseURL + path, body: body, headers: headers,
                                         timeout: .milliseconds(Int64(options.requestTimeout * 1000)),
                                         connectTimeout: .milliseconds(Int64(options.dialTimeout * 1000)),
                                         connectTo: endpoint.connectTo)
        do {
            return try await curl.perform(request)
        } catch let error as CurlClient.TransportError {
            if error.maybeDelivered && !idempotent { throw EtcdOutcomeUnknown(message: error.description) }
            throw EtcdEndpointFailure(message: error.description)
        }
    }

    /// The auth token for `username`, fetched once per client (or again after it expires).
    private func authToken(at index: Int) async throws -> String? {
        guard !options.username.isEmpty else { return nil }
        if let token = state.token { return token }
        let body = try JSONEncoder().encode(EtcdMessages.AuthenticateRequest(name: options.username, password: options.password))
        let response = try await post("/v3/auth/authenticate", body, to: index, headers: ["Content-Type: application/json"],
                                      idempotent: true)
        guard response.status == 200 else {
            let error = try? JSONDecoder().decode(EtcdMessages.ErrorBody.self, from: response.body)
            let message = error?.message ?? error?.error ?? "HTTP \(response.status)"
            if error?.code == 14 || response.status >= 500 { throw EtcdEndpointFailure(message: message) }
            throw StorageError.unavailable("etcd: authentication as \(options.username) failed: \(message)")
        }
        guard let token = try? JSONDecoder().decode(EtcdMessages.AuthenticateResponse.self, from: response.body).token,
              !token.isEmpty else {
            throw StorageError.unavailable("etcd: authentication returned no token")
        }
        state.token = token
        return token
    }
}

/// A request whose effect is unknown (it may have been applied): the caller must read to find out.
struct EtcdOutcomeUnknown: Error, CustomStringConvertible {
    let message: String
    var description: String { "etcd: outcome unknown: \(message)" }
}

/// This endpoint cannot serve the request now; try another.
private struct EtcdEndpointFailure: Error {
    let message: String
}

/// The preferred endpoint and the auth token, shared by concurrent requests.
private final class EtcdClientState: @unchecked Sendable {
    private let lock = NSLock()
    private var preferredIndex = 0
    private var cachedToken: String?

    var preferred: Int {
        get { lock.withLock { preferredIndex } }
        set { lock.withLock { preferredIndex = newValue } }
    }

    var token: String? {
        get { lock.withLock { cachedToken } }
        set { lock.withLock { cachedToken = newValue } }
    }
}
