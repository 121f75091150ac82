import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import Storage

/// Runs the gateway: the HTTP and/or HTTPS listeners, key rotation and garbage collection, in one
/// service group that shuts down gracefully on SIGTERM/SIGINT (in-flight requests finish first).
public struct GatewayServer: Sendable {
    public let gateway: Gateway
    public let httpAddress: String?
    public let httpsAddress: String?
    public let tlsCert: String?
    public let tlsKey: String?
    /// `telemetry.http`: health probes and `/metrics` on their own listener (see `GatewayMetrics`).
    public let telemetryAddress: String?
    /// Reported by `fedgate_build_info`.
    public let version: String
    /// `web.tlsMinVersion` / `web.tlsMaxVersion` ("1.2" or "1.3"); TLS 1.2 to 1.3 when unset, as Dex.
    public let tlsMinVersion: String?
    public let tlsMaxVersion: String?

    public init(gateway: Gateway, httpAddress: String?, httpsAddress: String?, tlsCert: String?, tlsKey: String?,
                tlsMinVersion: String? = nil, tlsMaxVersion: String? = nil,
                telemetryAddress: String? = nil, version: String = "") {
        self.gateway = gateway
        self.httpAddress = httpAddress
        self.httpsAddress = httpsAddress
        self.tlsCert = tlsCert
        self.tlsKey = tlsKey
        self.tlsMinVersion = tlsMinVersion
        self.tlsMaxVersion = tlsMaxVersion
        self.telemetryAddress = telemetryAddress
        self.version = version
    }

    /// A `web.tlsMinVersion`/`tlsMaxVersion` value as NIO's protocol version (validated by the config).
    static func tlsVersion(_ text: String?) -> TLSVersion? {
        switch text {
        case "1.2": .tlsv12
        case "1.3": .tlsv13
        default: nil
        }
    }

    /// Splits "host:port" (":5556" binds every interface, as Go does).
    public static func bindAddress(_ address: String) throws -> BindAddress {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (0...65535).contains(port) else {
            throw ServeError("invalid listen address \"\(address)\" (want host:port)")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return .hostname(host.isEmpty ? "0.0.0.0" : host, port: port)
    }

    public func run(onRunning: @escaping @Sendable (String, Int) async -> Void = { _, _ in }) async throws {
        var services: [any Service] = []
        let logger = gateway.logger
        let metrics = telemetryAddress.map { _ in GatewayMetrics(version: version) }
        // With metrics on, discovery and `/keys` take the router too, so every request is counted.
        let prepared = metrics == nil ? gateway.preparedEndpoints(serverName: "fedgate") : nil
        if let httpAddress {
            let app = Application(
                router: gateway.router(metrics: metrics),
                server: .http1(prepared: prepared),
                configuration: .init(address: try Self.bindAddress(httpAddress), serverName: "fedgate"),
                onServerRunning: { channel in
                    logger.info("listening", metadata: ["scheme": "http", "address": "\(channel.localAddress?.description ?? httpAddress)"])
                    await onRunning("http", channel.localAddress?.port ?? 0)
                },
                logger: logger
            )
            services.append(app)
        }
        if let httpsAddress, let tlsCert, let tlsKey {
            let certificates = try NIOSSLCertificate.fromPEMFile(tlsCert).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: tlsKey, format: .pem)
            var tls = TLSConfiguration.makeServerConfiguration(certificateChain: certificates, privateKey: .privateKey(key))
            tls.minimumTLSVersion = Self.tlsVersion(tlsMinVersion) ?? .tlsv12
            tls.maximumTLSVersion = Self.tlsVersion(tlsMaxVersion)
            let app = Application(
                router: gateway.router(metrics: metrics),
                server: try .tls(.http1(prepared: prepared), tlsConfiguration: tls),
                configuration: .init(address: try Self.bindAddress(httpsAddress), serverName: "fedgate"),
                onServerRunning: { channel in
                    logger.info("listening", metadata: ["scheme": "https", "address": "\(channel.localAddress?.description ?? httpsAddress)"])
                    await onRunning("https", channel.localAddress?.port ?? 0)
                },
                logger: logger
            )
            services.append(app)
        }
        if let telemetryAddress, let metrics {
            services.append(Application(
                router: gateway.telemetryRouter(metrics: metrics),
                configuration: .init(address: try Self.bindAddress(telemetryAddress), serverName: "fedgate"),
                onServerRunning: { channel in
                    logger.info("listening", metadata: ["scheme": "telemetry", "address": "\(channel.localAddress?.description ?? telemetryAddress)"])
                    await onRunning("telemetry", channel.localAddress?.port ?? 0)
                },
                logger: logger
            ))
        }
        services.append(BackgroundTask(name: "key-rotation") { await gateway.keys.run() })
        services.append(BackgroundTask(name: "garbage-collection") { await gateway.collectGarbageForever() })
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        try await group.run()
        try? await gateway.storage.close()
        logger.info("shut down")
    }
}

public struct ServeError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A long-running loop as a service: cancelled when the group shuts down.
struct BackgroundTask: Service {
    let name: String
    let body: @Sendable () async -> Void
    func run() async throws {
        await cancelWhenGracefulShutdown { await body() }
    }
}

extension Gateway {
    /// Garbage collection every 5 minutes (Dex's period), also of expired refresh tokens and
    /// empty offline sessions, which Dex never collects.
    func collectGarbageForever(interval: Duration = .seconds(300)) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            do {
                let policy = RefreshExpiryPolicy(absoluteLifetime: settings.refresh.absoluteLifetime,
                                                 validIfNotUsedFor: settings.refresh.validIfNotUsedFor)
                let result = try await storage.garbageCollect(now: now(), refreshPolicy: policy)
                if result.total > 0 {
                    logger.info("garbage collection", metadata: [
                        "auth_requests": "\(result.authRequests)", "auth_codes": "\(result.authCodes)",
                        "device_requests": "\(result.deviceRequests)", "device_tokens": "\(result.deviceTokens)",
                        "refresh_tokens": "\(result.refreshTokens)", "offline_sessions": "\(result.offlineSessions)",
                    ])
                }
            } catch {
                logger.error("garbage collection failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
