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
/// one configured store to another, e.g. a Dex etcd store (read in Dex's layout) or Fedgate's
/// SQLite file into a PostgreSQL shared by several replicas.
///
/// Each FILE is a Dex/Fedgate config (only its `storage:` section is read). Objects are copied
/// type by type with a progress line on stderr and a count per type at the end. A target that
/// already holds objects is refused unless `--force`, which then overwrites same-keyed objects.
/// In-flight auth requests, codes, device flows and login throttles are not copied: they live
/// minutes and the storage protocol cannot list them; logins in progress simply restart.
struct StorageCopy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy clients, passwords, connectors, signing keys, refresh tokens and offline sessions between stores."
    )

    @Option(name: .customLong("from"), help: "Config file of the source store.")
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
        let input: any GatewayStorage
        let output: any GatewayStorage
        do {
            input = try await Gateway.openStorage(source, logger: logger)
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

    private func copy(from input: any GatewayStorage, to output: any GatewayStorage) async throws {
        if !force, let what = try await firstContent(of: output) {
            throw CopyFailure(message: "the target store is not empty (it has \(what)); use --force to write into it anyway")
        }
        var counts: [(String, Int)] = []
        let progress = Progress()

        let clients = try await input.listClients()
        counts.append(("clients", try await put(clients, "clients", progress) { try await output.createClient($0) } replace: { item in
            try await output.updateClient(id: item.id) { $0 = item }
        }))
        let passwords = try await input.listPasswords()
        counts.append(("passwords", try await put(passwords, "passwords", progress) { try await output.createPassword($0) } replace: { item in
            try await output.updatePassword(email: item.email) { $0 = item }
        }))
        let connectors = try await input.listConnectors()
        counts.append(("connectors", try await put(connectors, "connectors", progress) { try await output.createConnector($0) } replace: { item in
            try await output.updateConnector(id: item.id) { $0 = item }
        }))
        let keys = try await input.getKeys()
        let hasKeys = keys.signingKey != nil || !keys.verificationKeys.isEmpty
        if hasKeys { try await output.updateKeys { $0 = keys } }
        counts.append(("signing key sets", hasKeys ? 1 : 0))

        let tokens = try await input.listRefreshTokens()
        counts.append(("refresh tokens", try await put(tokens, "refresh tokens", progress) { try await output.createRefreshToken($0) } replace: { item in
            try await output.updateRefreshToken(id: item.id) { $0 = item }
        }))
        // Sessions are found through their users: every session worth keeping holds a token.
        var sessions: [OfflineSession] = []
        for userID in Set(tokens.map(\.claims.userID)).sorted() {
            sessions.append(contentsOf: try await input.listOfflineSessions(userID: userID))
        }
        counts.append(("offline sessions", try await put(sessions, "offline sessions", progress) { try await output.createOfflineSession($0) } replace: { item in
            try await output.updateOfflineSession(userID: item.userID, connectorID: item.connectorID) { $0 = item }
        }))
        progress.finish()

        print("copied:")
        for (name, count) in counts { print("  \(name): \(count)") }
        print("not copied (short-lived, cannot be listed): auth requests, auth codes, device requests and tokens, login throttles")
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
