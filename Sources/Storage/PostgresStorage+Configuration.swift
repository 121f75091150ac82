import Foundation
import PostgresNIO

/// Turns Dex's Postgres settings into a postgres-nio client configuration.
extension PostgresStorage {
    static func makeConfiguration(_ options: PostgresOptions) throws -> PostgresClient.Configuration {
        let password: String? = options.password.isEmpty ? nil : options.password
        let database: String? = options.database.isEmpty ? nil : options.database
        var configuration: PostgresClient.Configuration
        switch options.endpoint {
        case .tcp(let host, let port):
            configuration = .init(host: host, port: port, username: options.user, password: password,
                                  database: database, tls: try makeTLS(options))
        case .unixSocket(let path):
            configuration = .init(unixSocketPath: path, username: options.user, password: password, database: database)
        }
        let maxOpen = max(1, options.maxOpenConns)
        configuration.options.maximumConnections = maxOpen
        configuration.options.minimumConnections = min(max(0, options.maxIdleConns), maxOpen - 1)
        if options.connectionTimeout > 0 {
            configuration.options.connectTimeout = .milliseconds(Int64(options.connectionTimeout * 1000))
        }
        if options.connMaxLifetime > 0 {
            configuration.options.connectionIdleTimeout = .milliseconds(Int64(options.connMaxLifetime * 1000))
        }
        // Every transaction serializable (Dex runs `SERIALIZABLE` throughout); times are UTC
        // integers, but a UTC session keeps anything the server formats unambiguous.
        configuration.options.additionalStartupParameters = [
            ("default_transaction_isolation", "serializable"), ("TimeZone", "UTC"), ("application_name", "fedgate"),
        ]
        return configuration
    }

    static func makeTLS(_ options: PostgresOptions) throws -> PostgresClient.Configuration.TLS {
        guard options.sslMode != .disable else { return .disable }
        var tls = TLSConfiguration.makeClientConfiguration()
        switch options.sslMode {
        case .disable: break
        case .require: tls.certificateVerification = .none
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .verifyFull: tls.certificateVerification = .fullVerification
        }
        do {
            if let caFile = options.caFile, !caFile.isEmpty { tls.trustRoots = .file(caFile) }
            if let certFile = options.certFile, !certFile.isEmpty {
                tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certFile).map { .certificate($0) }
            }
            if let keyFile = options.keyFile, !keyFile.isEmpty {
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
            }
        } catch {
            throw StorageError.unavailable("postgres: cannot load TLS files: \(error)")
        }
        return .require(tls)
    }
}
