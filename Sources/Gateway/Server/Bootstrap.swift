import ClaimMapping
import Connectors
import FedgateCore
import Foundation
import Logging
import Signing
import Storage

/// Turns a validated `FedgateConfig` into a running `Gateway`: opens storage (with the static
/// clients and passwords overlaid read-only, as Dex does), connectors, keys and pages.
extension Gateway {
    public static func make(config: FedgateConfig, logger: Logger, now: @escaping @Sendable () -> Date = Date.init) async throws -> Gateway {
        let backend = try await openStorage(config.storage, logger: logger)
        let clients = config.staticClients.map {
            Client(id: $0.id, secret: $0.secret, redirectURIs: $0.redirectURIs, trustedPeers: $0.trustedPeers,
                   isPublic: $0.isPublic, name: $0.name, logoURL: $0.logoURL)
        }
        let passwords = config.staticPasswords.map {
            Password(email: $0.email, hash: $0.hash, username: $0.username, name: $0.name,
                     preferredUsername: $0.preferredUsername, emailVerified: $0.emailVerified, userID: $0.userID, groups: $0.groups)
        }
        let storage = StaticOverlayStorage(backend: backend, clients: clients, passwords: passwords)

        let environment = ConnectorEnvironment(
            logger: logger, passwordDirectory: StoragePasswordDirectory(storage: storage),
            configDirectory: URL(fileURLWithPath: config.file).deletingLastPathComponent().path
        )
        var entries: [ConnectorEntry] = []
        for settings in config.connectors {
            let connector: any Connector
            do {
                connector = try await settings.config.open(id: settings.id, environment: environment)
            } catch {
                throw ConfigErrors(file: config.file, problems: [ConfigProblem("connectors[\(settings.id)]", "cannot open connector: \(error)")])
            }
            entries.append(ConnectorEntry(id: settings.id, type: settings.type, name: settings.name, connector: connector,
                                          mapper: try ClaimMapper(config: settings.claimMapping ?? ClaimMappingConfig()),
                                          grantTypes: settings.grantTypes))
        }
        if config.enablePasswordDB, !entries.contains(where: { $0.id == "local" }) {
            let local = try await LocalConnectorConfig().open(id: "local", environment: environment)
            entries.append(ConnectorEntry(id: "local", type: "local", name: "Email", connector: local,
                                          mapper: try ClaimMapper(config: ClaimMappingConfig()), grantTypes: []))
        }

        let algorithm: SigningAlgorithm = config.signer.algorithm == "ES256" ? .es256 : .rs256
        let keys = KeyManager(storage: storage, algorithm: algorithm, rotationPeriod: config.signer.keysRotationPeriod,
                              idTokenLifetime: config.expiry.idTokens, logger: logger, now: now)
        // Ready after one key generation; the key-rotation service pre-publishes the next key on
        // its first tick (a first start with an empty store is twice as fast).
        try await keys.start(prePublishNext: false)

        var grantTypes: Set<String> = ["authorization_code", "refresh_token"]
        if config.oauth2.passwordConnector != nil { grantTypes.insert("password") }
        if !config.oauth2.grantTypes.isEmpty { grantTypes = grantTypes.intersection(config.oauth2.grantTypes) }

        let settings = Settings(
            issuer: config.issuer,
            issuerPath: config.issuerPath,
            idTokenLifetime: config.expiry.idTokens,
            authRequestLifetime: config.expiry.authRequests,
            authCodeLifetime: config.expiry.authCodes,
            refresh: .init(disableRotation: config.expiry.refreshTokens.disableRotation,
                           reuseInterval: config.expiry.refreshTokens.reuseInterval,
                           validIfNotUsedFor: config.expiry.refreshTokens.validIfNotUsedFor,
                           absoluteLifetime: config.expiry.refreshTokens.absoluteLifetime),
            responseTypes: Set(config.oauth2.responseTypes.isEmpty ? ["code"] : config.oauth2.responseTypes),
            grantTypes: grantTypes,
            skipApprovalScreen: config.oauth2.skipApprovalScreen,
            alwaysShowLoginScreen: config.oauth2.alwaysShowLoginScreen,
            passwordConnector: config.oauth2.passwordConnector,
            pkceEnforced: config.oauth2.pkce.enforce,
            pkceMethods: config.oauth2.pkce.codeChallengeMethodsSupported,
            allowedOrigins: config.web.allowedOrigins,
            allowedHeaders: config.web.allowedHeaders,
            extraHeaders: config.web.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
            signingAlgorithm: algorithm.name,
            passwordPolicy: config.oauth2.passwordPolicy,
            clientRemoteIP: config.web.clientRemoteIP,
            allowedConnectors: Dictionary(config.staticClients.filter { !$0.allowedConnectors.isEmpty }
                .map { ($0.id, Set($0.allowedConnectors)) }, uniquingKeysWith: { first, _ in first })
        )
        if let remote = config.web.clientRemoteIP, remote.trustedProxies.isEmpty {
            logger.warning("web.clientRemoteIP.trustedProxies is empty: no proxy is trusted, so the \(remote.header) header is ignored")
        }
        let pages = try Pages(options: PageOptions(
            frontendDir: config.frontend.dir, theme: config.frontend.theme,
            issuerDisplayName: config.frontend.issuer, logoURL: config.frontend.logoURL,
            extra: config.frontend.extra, basePath: config.issuerPath
        ))
        return try Gateway(settings: settings, storage: storage, keys: keys, connectors: ConnectorSet(entries),
                           pages: pages, logger: logger, now: now)
    }

    /// Opens the configured backend itself (no static overlay): `make` wraps it, and
    /// `fedgate storage copy` uses it raw. Shared backends (postgres, etcd) must be reachable at
    /// start; later outages are reported per request as `StorageError.unavailable` (503).
    public static func openStorage(_ settings: StorageSettings, logger: Logger) async throws -> any GatewayStorage {
        switch settings {
        case .memory:
            return MemoryStorage()
        case .sqlite3(let file):
            let dir = URL(fileURLWithPath: file).deletingLastPathComponent().path
            if !dir.isEmpty { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
            return try await SQLiteStorage.open(file: file, logger: logger)
        case .postgres(let options):
            return try await PostgresStorage.open(options, logger: logger)
        case .etcd(let options):
            return try await EtcdStorage.open(options, logger: logger)
        }
    }
}

/// Local users for the `local` connector, read from storage (static passwords included).
///
/// A refresh grant reads its token and the token's user in one storage call
/// (`getRefreshTokenWithUser`) and lends that row to the connector's lookup as `PrefetchedUser`,
/// for the duration of that one refresh: the same row `getPassword` would have returned a moment
/// later, without a second read.
struct StoragePasswordDirectory: PasswordDirectory {
    let storage: any GatewayStorage
    func user(email: String) async throws -> LocalUser? {
        do {
            let key = email.lowercased()
            let p: Password
            if let prefetched = PrefetchedUser.current, prefetched.key == key {
                p = prefetched.password
            } else {
                p = try await storage.getPassword(email: key)
            }
            return LocalUser(email: p.email, hash: p.hash, username: p.username, name: p.name,
                             preferredUsername: p.preferredUsername, emailVerified: p.emailVerified, userID: p.userID, groups: p.groups)
        } catch let e as StorageError where e.isNotFound {
            return nil
        }
    }
}

/// The password-DB user read together with the refresh token being redeemed (task-local, so it
/// never outlives that grant's connector refresh).
enum PrefetchedUser {
    struct Row: Sendable {
        /// The lower-cased email it is stored under.
        let key: String
        let password: Password
    }

    @TaskLocal static var current: Row?
}
