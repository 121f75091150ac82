import Foundation
import Storage

/// One named check every `GatewayStorage` backend must pass (Dex's `storage/conformance` subtests).
///
/// A case asks `makeStore` for fresh, empty stores; `run` closes every store it handed out when
/// the case ends, passed or failed, so backends that hold files or connections are released.
/// The suite deliberately imports neither Testing nor XCTest: failures are thrown as
/// `ConformanceFailure`, and a test target wraps each case in a parameterised test:
///
/// ```swift
/// @Test(arguments: StorageConformance.all)
/// func memory(_ c: ConformanceCase) async throws { try await c.run { MemoryStorage() } }
/// ```
public struct ConformanceCase: Sendable, CustomStringConvertible {
    public typealias StoreFactory = @Sendable () async throws -> any GatewayStorage

    public let name: String
    private let body: @Sendable (_ makeStore: @escaping StoreFactory) async throws -> Void

    public init(_ name: String, _ body: @escaping @Sendable (_ makeStore: @escaping StoreFactory) async throws -> Void) {
        self.name = name
        self.body = body
    }

    /// A case that needs a single store.
    init(_ name: String, store body: @escaping @Sendable (any GatewayStorage) async throws -> Void) {
        self.init(name) { makeStore in try await body(try await makeStore()) }
    }

    public var description: String { name }

    /// Runs the case against stores from `makeStore`. Throws `ConformanceFailure` on a failed
    /// expectation, or the backend's own error if it throws one the case did not expect.
    public func run(_ makeStore: @escaping StoreFactory) async throws {
        let opened = OpenedStores()
        let tracked: StoreFactory = {
            let store = try await makeStore()
            opened.append(store)
            return store
        }
        do {
            try await body(tracked)
        } catch {
            for store in opened.all { try? await store.close() }
            throw error
        }
        for store in opened.all { try await store.close() }
    }
}

/// A failed expectation inside a conformance case.
public struct ConformanceFailure: Error, CustomStringConvertible {
    public let message: String
    public let file: String
    public let line: Int

    public init(_ message: String, file: String = #fileID, line: Int = #line) {
        self.message = message
        self.file = file
        self.line = line
    }

    public var description: String { "\(file):\(line): \(message)" }
}

/// The stores a case opened, so `run` can close them.
private final class OpenedStores: @unchecked Sendable {
    private let lock = NSLock()
    private var stores: [any GatewayStorage] = []
    func append(_ store: any GatewayStorage) { lock.withLock { stores.append(store) } }
    var all: [any GatewayStorage] { lock.withLock { stores } }
}

/// A value shared with a concurrently running task (tests only need a lock, not an actor).
final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withValue<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
