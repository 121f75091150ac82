import ArgumentParser
import Foundation
import NIOCore
import Gateway
import Logging

/// `fedgate`: serve, validate and version, with Dex's flags.
struct Fedgate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fedgate",
        abstract: "A Dex-compatible OpenID Connect identity federation gateway.",
        version: FedgateVersion.string,
        subcommands: [Serve.self, Validate.self, Version.self, StorageCommand.self]
    )
}

enum FedgateVersion {
    static let string = "0.1.0"
}

/// Loads a config file, printing one line per problem and exiting 2 on any.
func loadConfig(_ file: String) throws -> FedgateConfig {
    do {
        return try FedgateConfig.load(path: file)
    } catch let errors as ConfigErrors {
        FileHandle.standardError.write(Data((errors.description + "\n").utf8))
        throw ExitCode(2)
    } catch {
        FileHandle.standardError.write(Data("\(file): \(error)\n".utf8))
        throw ExitCode(2)
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the OpenID Connect provider described by a config file.")

    @Option(name: .customLong("web-http-addr"), help: "Override web.http (host:port).")
    var webHTTPAddr: String?

    @Option(name: .customLong("web-https-addr"), help: "Override web.https (host:port).")
    var webHTTPSAddr: String?

    @Option(name: .customLong("telemetry-addr"), help: "Override telemetry.http (host:port).")
    var telemetryAddr: String?

    @Option(name: .customLong("grpc-addr"), help: "Dex's gRPC API address: accepted for Dex's command lines (the Helm chart's), not served.")
    var grpcAddr: String?

    @Argument(help: "The config file (Dex's config.yaml schema).")
    var file: String

    func run() async throws {
        var config = try loadConfig(file)
        do {
            // Dex applies its flags, then validates: an HTTPS address still needs its cert and key.
            try config.override(webHTTP: webHTTPAddr, webHTTPS: webHTTPSAddr, telemetryHTTP: telemetryAddr, file: file)
        } catch let errors as ConfigErrors {
            FileHandle.standardError.write(Data((errors.description + "\n").utf8))
            throw ExitCode(2)
        }
        let level = config.logger.level
        let format: FedgateLogHandler.Format = config.logger.format == .json ? .json : .text
        let excluded = config.logger.excludeFields
        LoggingSystem.bootstrap { label in FedgateLogHandler(label: label, level: level, format: format, excludeFields: excluded) }
        let logger = Logger(label: "fedgate")
        logger.info("starting fedgate", metadata: [
            "version": .string(FedgateVersion.string), "config": .string(file), "issuer": .string(config.issuer),
            "executor": .string(EventLoopExecutor.isInstalled ? "event-loops" : "dispatch"),
            "event_loops": .stringConvertible(NIOSingletons.groupLoopCountSuggestion),
            "blocking_threads": .stringConvertible(NIOSingletons.blockingPoolThreadCountSuggestion),
        ])
        if let grpcAddr {
            logger.warning("--grpc-addr is accepted for Dex compatibility; Fedgate has no gRPC API, nothing listens there",
                           metadata: ["grpc_addr": .string(grpcAddr)])
        }
        let gateway: Gateway
        do {
            gateway = try await Gateway.make(config: config, logger: logger)
        } catch let errors as ConfigErrors {
            FileHandle.standardError.write(Data((errors.description + "\n").utf8))
            throw ExitCode(2)
        } catch {
            logger.critical("failed to start", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        let server = GatewayServer(gateway: gateway, httpAddress: config.web.http, httpsAddress: config.web.https,
                                   tlsCert: config.web.tlsCert, tlsKey: config.web.tlsKey,
                                   tlsMinVersion: config.web.tlsMinVersion, tlsMaxVersion: config.web.tlsMaxVersion,
                                   telemetryAddress: config.telemetry.http, version: FedgateVersion.string)
        do {
            try await server.run()
        } catch {
            logger.critical("server failed", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
    }
}

struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check a config file and report every problem (exit 2 if any).")

    @Argument(help: "The config file.")
    var file: String

    func run() async throws {
        _ = try loadConfig(file)
        print("\(file): ok")
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    func run() {
        #if arch(x86_64)
        let arch = "amd64"
        #else
        let arch = "arm64"
        #endif
        print("fedgate version: \(FedgateVersion.string)\nplatform: linux/\(arch)")
    }
}

