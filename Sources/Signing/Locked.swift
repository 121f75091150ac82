import Foundation

/// A value guarded by a lock, for state that synchronous hot paths read.
///
/// `Synchronization.Mutex` would do, but it needs macOS 15 and the package targets macOS 14;
/// `NSLock` is available everywhere and uncontended locking costs tens of nanoseconds.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
