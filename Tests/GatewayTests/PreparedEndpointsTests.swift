import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
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
        Cache-Control: private
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
        return Application(router: gateway.router(), server: .http1(prepared: endpoints))
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
            let started = ContinuousClock.now
            let (fastHeaders, fastBody) = try await answer(fast, path)
            let (plainHeaders, plainBody) = try await answer(plain, path)
            let apart = Int((ContinuousClock.now - started).components.seconds)
            #expect(fastBody == plainBody)
            for name: HTTPField.Name in [.contentType, .contentLength, RequestLogMiddleware.requestIDField, HTTPField.Name("X-Frame-Options")!] {
                #expect(fastHeaders[name] != nil && fastHeaders[name] == plainHeaders[name], "\(path): \(name)")
            }
            // `/keys`' max-age counts down to the next rotation: the two answers are as many seconds
            // apart as the two listeners took to start and answer (more on a loaded machine).
            let directives = { (fields: HTTPFields) -> [String] in
                (fields[.cacheControl] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            }
            let maxAge = { (fields: HTTPFields) -> Int? in
                directives(fields).first { $0.hasPrefix("max-age=") }.flatMap { Int($0.dropFirst("max-age=".count)) }
            }
            #expect(directives(fastHeaders).filter { !$0.hasPrefix("max-age=") } == directives(plainHeaders).filter { !$0.hasPrefix("max-age=") })
            let (fastAge, plainAge) = (try #require(maxAge(fastHeaders)), try #require(maxAge(plainHeaders)))
            #expect(abs(fastAge - plainAge) <= apart + 2, "\(path): Cache-Control")
            #expect(fastHeaders[.server] == "fedgate")   // answered by the handler, not the router
            #expect(plainHeaders[.server] == nil)
            #expect(fastHeaders[.date].map { $0.hasSuffix(" GMT") && $0.count == 29 } == true)
        }
    }

    @Test("web.headers are defaults, as in Dex: a header the answer sets is kept")
    func extraHeadersAreDefaults() async throws {
        let gateway = try await Self.makeGateway()
        for app in [try Self.preparedApp(gateway) as any ApplicationProtocol, Application(router: gateway.router())] {
            try await app.test(.live) { client in
                for path in ["/dex/keys", "/dex/.well-known/openid-configuration"] {
                    let cacheControl = try await client.execute(uri: path, method: .get) { $0.headers[values: .cacheControl] }
                    #expect(cacheControl.count == 1 && cacheControl[0] != "private", "\(path): \(cacheControl)")
                }
                let tokenError = try await client.execute(uri: "/dex/token", method: .post) { $0.headers }
                #expect(tokenError[values: .cacheControl] == ["no-store"])
                #expect(tokenError[HTTPField.Name("X-Frame-Options")!] == "DENY")
                let health = try await client.execute(uri: "/dex/healthz", method: .get) { $0.headers }
                #expect(health[values: .cacheControl] == ["private"])
            }
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
        let writer = PreparedBytesWriter()
        try channel.pipeline.syncOperations.addHandler(writer)
        try channel.pipeline.syncOperations.addHandler(PreparedResponseHandler(endpoints: endpoints, writer: writer))
        return channel
    }

    func request(_ channel: EmbeddedChannel, _ path: String, method: HTTPMethod = .GET, version: HTTPVersion = .http1_1,
                 headers: HTTPHeaders = [:]) throws {
        try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: version, method: method, uri: path, headers: headers)))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        channel.pipeline.fireChannelReadComplete()
    }

    /// The router's answer to a routed request (what the HTTP Types codec passes down).
    func routerAnswers(_ channel: EmbeddedChannel) throws {
        try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        while try channel.readOutbound(as: HTTPServerResponsePart.self) != nil {}
    }

    /// The request parts the router would have received.
    func routed(_ channel: EmbeddedChannel) throws -> [String] {
        var paths: [String] = []
        while let part = try channel.readInbound(as: HTTPServerRequestPart.self) {
            if case .head(let head) = part { paths.append(head.uri) }
        }
        return paths
    }

    struct Answer {
        let statusLine: String
        let headers: [(String, String)]
        let body: ByteBuffer
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    /// The prepared answers written, each one whole HTTP/1.1 response in one buffer.
    func answers(_ channel: EmbeddedChannel) throws -> [Answer] {
        var answers: [Answer] = []
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
            if buffer.readableBytes == 0 { continue }   // the write barrier before an end-of-input event
            let read = buffer.readString(length: buffer.readableBytes)
            let text = try #require(read)
            let parts = text.components(separatedBy: "\r\n\r\n")
            try #require(parts.count == 2)
            var lines = parts[0].components(separatedBy: "\r\n")
            let statusLine = lines.removeFirst()
            let headers = try lines.map { line in
                let colon = try #require(line.firstIndex(of: ":"))
                return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }
            answers.append(Answer(statusLine: statusLine, headers: headers, body: ByteBuffer(string: parts[1])))
        }
        return answers
    }

    @Test("a plain GET is answered in the pipeline with the prepared bytes, as one complete response")
    func answersInPipeline() async throws {
        let gateway = try await Self.makeGateway()
        let channel = try channel(try Self.prepared(gateway))
        try request(channel, "/dex/keys")
        try request(channel, "/dex/.well-known/openid-configuration", headers: ["Connection": "Keep-Alive", "content-length": "0", "X-Request-ID": "req-7"])
        #expect(try routed(channel).isEmpty)
        let answers = try answers(channel)
        try #require(answers.count == 2)
        #expect(answers.map(\.body) == [ByteBuffer(bytes: gateway.keys.snapshot.jwksJSON), gateway.discoveryJSON])
        for answer in answers {
            #expect(answer.statusLine == "HTTP/1.1 200 OK")
            #expect(answer.header("Content-Length") == String(answer.body.readableBytes))
            #expect(answer.header("Content-Type") == "application/json")
            #expect(answer.header("X-Frame-Options") == "DENY")
            #expect(answer.header("Server") == "fedgate")
            #expect(answer.header("Date").map { $0.hasSuffix(" GMT") && $0.count == 29 } == true)
            #expect(Set(answer.headers.map { $0.0.lowercased() }).count == answer.headers.count, "no header twice")
        }
        #expect(answers[0].header("Cache-Control")?.hasSuffix(", must-revalidate") == true)
        #expect(answers[1].header("Cache-Control") == PreparedEndpoints.discoveryCacheControl)
        #expect(answers[1].header("X-Request-ID") == "req-7")   // a presented ID is echoed
        let fresh = try #require(answers[0].header("X-Request-ID"))
        #expect(!fresh.isEmpty && fresh.count <= 16 && fresh.allSatisfy(\.isHexDigit) && fresh == fresh.lowercased())
    }

    @Test("requests it would answer differently go to the router untouched")
    func leavesOthersToRouter() async throws {
        let gateway = try await Self.makeGateway()
        let channel = try channel(try Self.prepared(gateway))
        let cases: [(String, HTTPMethod, HTTPVersion, HTTPHeaders)] = [
            ("/dex/keys", .POST, .http1_1, [:]),
            ("/dex/keys", .HEAD, .http1_1, [:]),
            ("/dex/keys?x=1", .GET, .http1_1, [:]),
            ("/dex/keys", .GET, .http1_0, [:]),   // HTTP/1.0: the router decides on keep-alive
            ("/dex/keys", .GET, .http1_1, ["Origin": "https://app.example.com"]),
            ("/dex/keys", .GET, .http1_1, ["connection": "close"]),
            ("/dex/keys", .GET, .http1_1, ["Content-Length": "2"]),
            ("/dex/keys", .GET, .http1_1, ["Transfer-Encoding": "chunked"]),
            ("/dex/keys", .GET, .http1_1, ["X-Request-ID": "caf\u{e9}"]),   // the router's HTTP Types would rewrite it
            ("/dex/keys", .GET, .http1_1, ["X-Request-ID": String(repeating: "a", count: 65)]),
            ("/dex/keys", .GET, .http1_1, ["X-Request-ID": "a", "x-request-id": "b"]),
            ("/dex/keys", .GET, .http1_1, ["X-Request-ID": "abc "]),   // HTTP Types would trim it
            ("/dex/token", .GET, .http1_1, [:]),
        ]
        for (path, method, version, headers) in cases {
            try request(channel, path, method: method, version: version, headers: headers)
            #expect(try routed(channel) == [path], "\(method) \(path) \(headers)")
            try routerAnswers(channel)
        }
        #expect(try answers(channel).isEmpty)
    }

    @Test("while a routed request is unanswered, later requests wait their turn in the router")
    func keepsResponseOrder() async throws {
        let gateway = try await Self.makeGateway()
        let channel = try channel(try Self.prepared(gateway))
        try request(channel, "/dex/token")
        try request(channel, "/dex/keys")   // pipelined behind an unanswered request
        #expect(try routed(channel) == ["/dex/token", "/dex/keys"])
        try routerAnswers(channel)   // /dex/token answered
        try routerAnswers(channel)   // /dex/keys answered by the router
        #expect(try answers(channel).isEmpty)
        try request(channel, "/dex/keys")
        #expect(try routed(channel).isEmpty)
        #expect(try answers(channel).count == 1)
    }

    @Test("after a routed request that ends the connection, every request takes the router")
    func closeEndsPreparedPath() async throws {
        let gateway = try await Self.makeGateway()
        let channel = try channel(try Self.prepared(gateway))
        try request(channel, "/dex/token", headers: ["Connection": "close"])
        try routerAnswers(channel)
        try request(channel, "/dex/keys")   // pipelined after the close: the router drops it
        #expect(try routed(channel) == ["/dex/token", "/dex/keys"])
        #expect(try answers(channel).isEmpty)
    }

    @Test("while the client does not read (channel not writable), requests take the router, which waits")
    func backpressure() async throws {
        let gateway = try await Self.makeGateway()
        let channel = try channel(try Self.prepared(gateway))
        channel.isWritable = false
        try request(channel, "/dex/keys")
        #expect(try routed(channel) == ["/dex/keys"])
        try routerAnswers(channel)
        channel.isWritable = true
        try request(channel, "/dex/keys")
        #expect(try routed(channel).isEmpty)
        #expect(try answers(channel).count == 1)
    }

    /// Records the user events that pass the handler.
    final class EventRecorder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        var events: [String] = []
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            events.append(event is ChannelShouldQuiesceEvent ? "quiesce" : "\(event)")
        }
    }

    @Test("end of input and quiescing pass on after the prepared answers are written; quiescing ends the prepared path")
    func endOfInputAndQuiesce() async throws {
        let gateway = try await Self.makeGateway()
        let channel = try channel(try Self.prepared(gateway))
        let recorder = EventRecorder()
        try channel.pipeline.syncOperations.addHandler(recorder)
        try request(channel, "/dex/keys")
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(recorder.events == ["quiesce"])
        #expect(try answers(channel).count == 1)
        try request(channel, "/dex/keys")   // quiescing: the router answers and closes
        #expect(try routed(channel) == ["/dex/keys"])
        try routerAnswers(channel)
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(recorder.events == ["quiesce", "inputClosed"])
    }

    @Test("request IDs written into a buffer are spelled as the router spells them")
    func requestIDDigits() {
        for _ in 0..<1_000 {
            var buffer = ByteBuffer()
            IDsShort.write(into: &buffer)
            let id = buffer.readString(length: buffer.readableBytes) ?? ""
            #expect(UInt64(id, radix: 16).map { String($0, radix: 16) } == id)
        }
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
