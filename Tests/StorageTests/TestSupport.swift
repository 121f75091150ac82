import Foundation
import Logging
import Storage

/// A quiet logger for stores under test (migrations log at info).
let testLogger: Logger = {
    var logger = Logger(label: "fedgate.storage.tests")
    logger.logLevel = .warning
    return logger
}()

/// Runs `body` with a fresh directory that is removed afterwards (with any WAL files in it).
func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fedgate-storage-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try await body(directory)
}

/// A database file path inside `directory` that does not exist yet.
func freshDatabasePath(in directory: URL) -> String {
    directory.appendingPathComponent("\(UUID().uuidString).sqlite").path
}
