import ArgumentParser
import Foundation
import Gateway
import Logging
import Storage

/// `fedgate storage …`: maintenance of a configured store.
struct StorageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage",
        abstract: "Work with the store a config file describes.",
        subcommands: [StorageCopy.self]
    )
}

/// `fedgate storage copy --from FILE --to FILE [--force]`: copies every persistent object from
/// one configured store to another, e.g. a Dex deployment (its etcd store, read in Dex's layout,
/// or its SQLite/PostgreSQL database in Dex's own SQL schema) or Fedgate's SQLite file into a
/// PostgreSQL or etcd shared by several replicas.
///
/// Each FILE is a Dex/Fedgate config (only its `storage:` section is read). A `sqlite3` or
/// `postgres` source whose tables are Dex's legacy SQL schema (detected by its `migrations` and
/// `refresh_token` columns) is read by `DexSQLReader`, and stderr says so; Fedgate's own schema is
/// opened as usual. Every object type is copied: clients, passwords, connectors, the signing key
/// set, refresh tokens (same IDs and secrets, so the refresh tokens clients hold keep working),
/// offline sessions, and the short-lived auth requests, auth codes, device requests and tokens
/// and login throttles, so logins in progress survive too. Progress goes to stderr, a count per
/// type to stdout at the end. A target that already holds objects is refused unless `--force`,
/// which then overwrites same-keyed objects (a device request, which cannot be updated, is kept
/// as the target has it, with a warning).
struct StorageCopy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy every object (clients, passwords, connectors, keys, refresh tokens, offline sessions, "
            + "auth requests and codes, device flows, login throttles) between stores, Dex SQL databases included."
    )

    @Option(name: .customLong("from"), help: "Config file of the source store (a Dex SQL database is detected).")
    var from: String

    @Option(name: .customLong("to"), help: "Config file of the target store.")
    var to: String

    @Flag(name: .customLong("force"), help: "Write into a target that is not empty (same keys are overwritten).")
    var force = false

    func run() async throws {
        let source = try loadStorage(from)
        let target = try loadStorage(to)
        guard source != target || source == .memory else {
            fail("--from and --to describe the same store")
        }
        var logger = Logger(label: "fedgate.storage.copy")
        logger.logLevel = .warning
        let input: any StorageReader
        let output: any GatewayStorage
        do {
            input = try await openSource(source, logger: logger)
        } catch {
            fail("cannot open the source store (\(source.typeName)): \(error)")
        }
        do {
            output = try await Gateway.openStorage(target, logger: logger)
        } catch {
            try? await input.close()
            fail("cannot open the target store (\(target.typeName)): \(error)")
        }
        do {
            try await copy(from: input, to: output)
        } catch let failure as CopyFailure {
            try? await input.close()
            try? await output.close()
            fail(failure.message)
        } catch {
            try? await input.close()
            try? await output.close()
            fail("copy failed: \(error)")
        }
        try? await input.close()
        try? await output.close()
    }

    /// A Dex SQL database is read in Dex's schema; anything else is opened as a Fedgate store.
    private func openSource(_ source: StorageSettings, logger: Logger) async throws -> any StorageReader {
        let dex: DexSQLReader?
        switch source {
        case .sqlite3(let file): dex = try await DexSQLReader.openIfDex(sqliteFile: file, logger: logger)
        case .postgres(let options): dex = try await DexSQLReader.openIfDex(postgres: options, logger: logger)
        case .memory, .etcd: dex = nil
        }
        if let dex {
            note("reading a Dex SQL database (\(dex.flavor.rawValue), Dex's legacy schema)")
            return dex
        }
        return try await Gateway.openStorage(source, logger: logger)
    }

    private func copy(from input: any StorageReader, to output: any GatewayStorage) async throws {
        if !force, let what = try await firstContent(of: output) {
            throw CopyFailure(message: "the target store is not empty (it has \(what)); use --force to write into it anyway")
        }
        var counts: [(String, Int)] = []
        let progress = Progress()

        counts.append(("clients", try await put(try await input.listClients(), "clients", progress,
                                                create: output.createClient) { item in
            try await output.updateClient(id: item.id) { $0 = item }
        }))
        counts.append(("passwords", try await put(try await input.listPasswords(), "passwords", progress,
                                                  create: output.createPassword) { item in
            try await output.updatePassword(email: item.email) { $0 = item }
        }))
        counts.append(("connectors", try await put(try await input.listConnectors(), "connectors", progress,
                                                   create: output.createConnector) { item in
            try await output.updateConnector(id: item.id) { $0 = item }
        }))
        let keys = try await input.getKeys()
        let hasKeys = keys.signingKey != nil || !keys.verificationKeys.isEmpty
        if hasKeys { try await output.updateKeys { $0 = keys } }
        counts.append(("signing key sets", hasKeys ? 1 : 0))

        counts.append(("refresh tokens", try await put(try await input.listRefreshTokens(), "refresh tokens", progress,
                                                       create: output.createRefreshToken) { item in
            try await output.updateRefreshToken(id: item.id) { $0 = item }
        }))
        counts.append(("offline sessions", try await put(try await input.listOfflineSessions(), "offline sessions", progress,
                                                         create: output.createOfflineSession) { item in
            try await output.updateOfflineSession(userID: item.userID, connectorID: item.connectorID) { $0 = item }
        }))
        counts.append(("auth requests", try await put(try await input.listAuthRequests(), "auth requests", progress,
                                                      create: output.createAuthRequest) { item in
            try await output.updateAuthRequest(id: item.id) { $0 = item }
        }))
        // Codes are immutable: replacing one is a delete and a create.
        counts.append(("auth codes", try await put(try await input.listAuthCodes(), "auth codes", progress,
                                                   create: output.createAuthCode) { item in
            try await output.deleteAuthCode(id: item.id)
            try await output.createAuthCode(item)
        }))
        counts.append(("device requests", try await put(try await input.listDeviceRequests(), "device requests", progress,
                                                        create: output.createDeviceRequest) { item in
            // No update or delete exists for device requests; an identical one is already copied.
            guard try await output.getDeviceRequest(userCode: item.userCode) != item else { return }
            note("warning: device request \(item.userCode) differs in the target; kept the target's")
        }))
        counts.append(("device tokens", try await put(try await input.listDeviceTokens(), "device tokens", progress,
                                                      create: output.createDeviceToken) { item in
            try await output.updateDeviceToken(deviceCode: item.deviceCode) { $0 = item }
        }))
        counts.append(("login throttles", try await put(try await input.listLoginThrottles(), "login throttles", progress,
                                                        create: output.createLoginThrottle) { item in
            try await output.updateLoginThrottle(key: item.key) { $0 = item }
        }))
        progress.finish()

        print("copied:")
        for (name, count) in counts { print("  \(name): \(count)") }
    }

    /// Creates each item; with `--force`, an item whose key exists is overwritten instead.
    private func put<T: Sendable>(_ items: [T], _ name: String, _ progress: Progress,
                                  create: (T) async throws -> Void, replace: (T) async throws -> Void) async throws -> Int {
        for (index, item) in items.enumerated() {
            do {
                try await create(item)
            } catch let error as StorageError where error.isAlreadyExists {
                guard force else { throw CopyFailure(message: "the target already has one of the \(name); use --force") }
                try await replace(item)
            }
            progress.update(name, index + 1, of: items.count)
        }
        return items.count
    }

    /// What makes the target non-empty, if anything.
    private func firstContent(of store: any GatewayStorage) async throws -> String? {
        if let client = try await store.listClients().first { return "client \"\(client.id)\"" }
        if !(try await store.listPasswords()).isEmpty { return "passwords" }
        if !(try await store.listConnectors()).isEmpty { return "connectors" }
        if !(try await store.listRefreshTokens()).isEmpty { return "refresh tokens" }
        let keys = try await store.getKeys()
        if keys.signingKey != nil || !keys.verificationKeys.isEmpty { return "signing keys" }
        if !(try await store.listOfflineSessions()).isEmpty { return "offline sessions" }
        if !(try await store.listAuthRequests()).isEmpty { return "auth requests" }
        if !(try await store.listAuthCodes()).isEmpty { return "auth codes" }
        if !(try await store.listDeviceRequests()).isEmpty { return "device requests" }
        if !(try await store.listDeviceTokens()).isEmpty { return "device tokens" }
        if !(try await store.listLoginThrottles()).isEmpty { return "login throttles" }
        return nil
    }

    private func loadStorage(_ file: String) throws -> StorageSettings {
        do {
            return try StorageSettings.load(path: file)
        } catch let errors as ConfigErrors {
            FileHandle.standardError.write(Data((errors.description + "\n").utf8))
            throw ExitCode(2)
        }
    }

    private func note(_ message: String) {
        FileHandle.standardError.write(Data("fedgate storage copy: \(message)\n".utf8))
    }

    private func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("fedgate storage copy: \(message)\n".utf8))
        Foundation.exit(1)
    }
}

private struct CopyFailure: Error {
    let message: String
}

/// One progress line on stderr, rewritten in place on a terminal and printed every 1,000
/// objects (and at the end of each type) otherwise.
private final class Progress {
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private var lastLength = 0

    func update(_ name: String, _ done: Int, of total: Int) {
        let line = "copying \(name): \(done)/\(total)"
        if isTerminal {
            let padding = String(repeating: " ", count: max(0, lastLength - line.count))
            FileHandle.standardError.write(Data(("\r" + line + padding).utf8))
            lastLength = line.count
        } else if done == total || done % 1000 == 0 {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    func finish() {
        if isTerminal, lastLength > 0 { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
