import Foundation
import Storage

// Expectation helpers that throw `ConformanceFailure` (the suite cannot use #expect).

func expect(_ condition: Bool, _ message: @autoclosure () -> String, file: String = #fileID, line: Int = #line) throws {
    guard condition else { throw ConformanceFailure(message(), file: file, line: line) }
}

func expectEqual<T: Equatable>(_ actual: T, _ expected: T, _ what: String,
                               file: String = #fileID, line: Int = #line) throws {
    guard actual == expected else {
        throw ConformanceFailure("\(what): got \(actual), expected \(expected)", file: file, line: line)
    }
}

/// Expects `body` to throw a `StorageError` with the same code as `expected`.
func expectError(_ expected: StorageError, _ what: String, file: String = #fileID, line: Int = #line,
                 _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as StorageError {
        guard error == expected else {
            throw ConformanceFailure("\(what): threw \(error), expected \(expected)", file: file, line: line)
        }
        return
    } catch {
        throw ConformanceFailure("\(what): threw \(error), expected \(expected)", file: file, line: line)
    }
    throw ConformanceFailure("\(what): did not throw, expected \(expected)", file: file, line: line)
}

/// The error an updater throws to abort an update.
struct UpdaterAbort: Error {}

/// Expects `body` to rethrow the updater's own `UpdaterAbort`.
func expectAbort(_ what: String, file: String = #fileID, line: Int = #line, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch is UpdaterAbort {
        return
    } catch {
        throw ConformanceFailure("\(what): threw \(error), expected the updater's error", file: file, line: line)
    }
    throw ConformanceFailure("\(what): did not throw the updater's error", file: file, line: line)
}
