import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing
@testable import Gateway

/// Discovery and `/keys` answered in the channel pipeline: the same bytes and headers as the
/// router, never out of order, and everything it should not answer left to the router.
@Suite("Prepared discovery and keys")
struct PreparedEndpointsTests {
    static let yaml = """
    issuer: http://127.0.0.1:5556/dex
    storage:
      type: memory
    web:
      http: 127.0.0.1:0
      allowedOrigins: [https://app.example.com]
      headers:
        X-Frame-Options: DENY
    staticClients:
    - id: example-app
      secret: app-secret
      name: Example App
      redirectURIs: [http://127.0.0.1:5555/callback]
    """

    static func makeGateway() async throws -> Gateway {
        let config = try FedgateConfig.parse(yaml: yaml, file: "prepared-test.yaml", environment: [:])
        return try await Gateway.make(config: config, logger: Logger(label: "test"))
    }

    static func prepared(_ gateway: Gateway) throws -> PreparedEndpoints {
        try #require(gateway.preparedEndpoints(serverName: "fedgate"))
    }

    /// The gateway's router behind a listener with the pipeline handler, as `GatewayServer` runs it.
    static func preparedApp(_ gateway: Gateway) throws -> some ApplicationProtocol {
        let endpoints = try prepared(gateway)
        return Application(router: gateway.router(),
                           server: .http1(configuration: .init(additionalChannelHandlers: [PreparedResponseHandler(endpoints: endpoints)])))
    }

    @Test("over a live listener both documents match the router's answer, header for header")
    func liveMatchesRouter() async throws {
        let gateway = try await Self.makeGateway()
        let fast = try Self.preparedApp(gateway)
        let plain = Application(router: gateway.router())
        func answer(_ app: some ApplicationProtocol, _ path: String) async throws -> (HTTPFields, ByteBuffer) {
            try await app.test(.live) { client in
                try await client.execute(uri: path, method: .get, headers: [RequestLogMiddleware.requestIDField: "req-1"]) { response in
                    #expect(response.status == .ok)
                    return (response.headers, response.body)
                }
            }
        }
        for path in ["/dex/keys", "/dex/.well-known/openid-configuration"] {
            let (fastHeaders, fastBody) = try await answer(fast, path)
            let (plainHeaders, plainBody) = try await answer(plain, path)
            #expect(fastBody == plainBody)
            for name: HTTPField.Name in [.contentType, .contentLength, RequestLogMiddleware.requestIDField, HTTPField.Name("X-Frame-Options")!] {
                #expect(fastHeaders[name] != nil && fastHeaders[name] == plainHeaders[name], "\(path): \(name)")
            }
            // `/keys`' max-age counts down to the next rotation: the two answers may be a second apart.
            let directives = { (fields: HTTPFields) -> [String] in
                (fields[.cacheControl] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            }
            let maxAge = { (fields: HTTPFields) -> Int? in
                directives(fields).first { $0.hasPrefix("max-age=") }.flatMap { Int($0.dropFirst("max-age=".count)) }
            }
            #expect(directives(fastHeaders).filter { !$0.hasPrefix("max-age=") } == directives(plainHeaders).filter { !$0.hasPrefix("max-age=") })
            let (fastAge, plainAge) = (try #require(maxAge(fastHeaders)), try #require(maxAge(plainHeaders)))
            #expect(abs(fastAge - plainAge) <= 2, "\(path): Cache-Control")
            #expect(fastHeaders[.server] == "fedgate")   // answered by the handler, not the router
            #expect(plainHeaders[.server] == nil)
            #expect(fastHeaders[.date].map { $0.hasSuffix(" GMT") && $0.count == 29 } == true)
        }
    }

    @Test("after a key change the same connection gets the new /keys bytes")
    func followsRotation() async throws {
        let gateway = try await Self.makeGateway()
        let app = try Self.preparedApp(gateway)
        try await app.test(.live) { client in
            let first = try await client.execute(uri: "/dex/keys", method: .get) { $0.body }
            #expect(first == ByteBuffer(bytes: gateway.keys.snapshot.jwksJSON))
            try await gateway.keys.rotateIfDue()   // pre-publishes the next key: /keys lists two
            let second = try await client.execute(uri: "/dex/keys", method: .get) { $0.body }
            #expect(second != first)
            #expect(second == ByteBuffer(bytes: gateway.keys.snapshot.jwksJSON))
        }
    }

    // MARK: - Pipeline behaviour (embedded channel; no await while a channel is in use)

    func channel(_ endpoints: PreparedEndpoints) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(PreparedResponseHandler(endpoints: endpoints))
        return channel
    }

    func request(_ channel: EmbeddedChannel, _ path: String, method: HTTPRequest.Method = .get, headers: HTTPFields = [:]) throws {
        try channel.writeInbound(HTTPRequestPart.head(HTTPRequest(method: method, scheme: "http", authority: "127.0.0.1", path: path, headerFields: headers)))
        try channel.writeInbound(HTTPRequestPart.end(nil))
        channel.pipeline.fireChannelReadComplete()
    }

    /// The request parts the router would have received.
    func routed(_ channel: EmbeddedChannel) throws -> [String] {
        var paths: [String] = []
        while let part = try channel.readInbound(as: HTTPRequestPart.self) {
            if case .head(let head) = part { paths.append(head.path ?? "") }
        }
        return paths
    }

    /// The prepared answers written (body bytes per response).
    func answers(_ channel: EmbeddedChannel) throws -> [ByteBuffer] {
        var bodies: [ByteBuffer] = []
        while let part = try channel.readOutbound(as: HTTPResponsePart.self) {
            if case .body(let body) = part { bodies.append(body) }
        }
        return bodies
    }

    @Test("a plain GET is answered in the pipeline with the prepared bytes")
    func answersInPipeline() async throws {
        let gateway = try await Self.makeGateway()
        let channel = try channel(try Self.prepared(gateway))
        try request(channel, "/dex/keys")
        try request(channel, "/dex/.well-known/openid-configuration", headers: [.connection: "Keep-Alive", .contentLength: "0"])
        #expect(try routed(channel).isEmpty)
        #expect(try answers(channel) == [ByteBuffer(bytes: gateway.keys.snapshot.jwksJSON), gateway.discoveryJSON])
    }

    @Test("requests it would answer differently go to the router untouched")
    func leavesOthersToRouter() async throws {
        let gateway = try await Self.makeGateway()
        let channel = try channel(try Self.prepared(gateway))
        try request(channel, "/dex/keys", method: .post)
        try channel.writeOutbound(HTTPResponsePart.end(nil))
        try request(channel, "/dex/keys?x=1")
        try channel.writeOutbound(HTTPResponsePart.end(nil))
        try request(channel, "/dex/keys", headers: [.origin: "https://app.example.com"])
        try channel.writeOutbound(HTTPResponsePart.end(nil))
        try request(channel, "/dex/keys", headers: [.connection: "close"])
        try channel.writeOutbound(HTTPResponsePart.end(nil))
        try request(channel, "/dex/keys", headers: [.contentLength: "2"])
        try channel.writeOutbound(HTTPResponsePart.end(nil))
        try request(channel, "/dex/token")
        try channel.writeOutbound(HTTPResponsePart.end(nil))
        #expect(try routed(channel) == ["/dex/keys", "/dex/keys?x=1", "/dex/keys", "/dex/keys", "/dex/keys", "/dex/token"])
        #expect(try answers(channel).isEmpty)
    }

    @Test("while a routed request is unanswered, later requests wait their turn in the router")
    func keepsResponseOrder() async throws {
        let gateway = try await Self.makeGateway()
        let channel = try channel(try Self.prepared(gateway))
        try request(channel, "/dex/token")
        try request(channel, "/dex/keys")   // pipelined behind an unanswered request
        #expect(try routed(channel) == ["/dex/token", "/dex/keys"])
        #expect(try answers(channel).isEmpty)
        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .ok)))
        try channel.writeOutbound(HTTPResponsePart.end(nil))   // /dex/token answered
        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .ok)))
        try channel.writeOutbound(HTTPResponsePart.end(nil))   // /dex/keys answered by the router
        _ = try answers(channel)
        try request(channel, "/dex/keys")
        #expect(try routed(channel).isEmpty)
        #expect(try answers(channel).count == 1)
    }

    @Test("requests logged at debug level all take the router")
    func debugLoggingDisables() async throws {
        let config = try FedgateConfig.parse(yaml: Self.yaml, file: "prepared-test.yaml", environment: [:])
        var logger = Logger(label: "test")
        logger.logLevel = .debug
        let gateway = try await Gateway.make(config: config, logger: logger)
        #expect(gateway.preparedEndpoints(serverName: "fedgate") == nil)
    }

    @Test("request IDs do not repeat, across threads too")
    func requestIDs() async {
        let ids = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<4 { group.addTask { (0..<5_000).map { _ in IDsShort.make() } } }
            return await group.reduce(into: [String]()) { $0 += $1 }
        }
        #expect(Set(ids).count == 20_000)
        #expect(ids.allSatisfy { !$0.isEmpty && $0.count <= 16 && $0.allSatisfy(\.isHexDigit) })
        // The mixer is a bijection: distinct counters give distinct outputs.
        #expect(Set((0..<10_000).map { IDsShort.mix(UInt64($0)) }).count == 10_000)
    }

    @Test("the Date header is RFC 9110's IMF-fixdate")
    func httpDate() {
        #expect(HTTPDate.format(epochSeconds: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(epochSeconds: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(epochSeconds: 1_795_478_400) == "Tue, 24 Nov 2026 00:00:00 GMT")
    }
}
