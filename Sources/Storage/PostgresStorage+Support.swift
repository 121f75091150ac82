import Foundation

/// A value bound to a statement parameter (`$1`, `$2`, …).
enum PostgresBindValue: Sendable, Equatable {
    case text(String)
    case integer(Int64)

    static func time(_ date: Date) -> PostgresBindValue { .integer(StorageCodec.microseconds(date)) }
}

/// SQLSTATE 40001 (serialization_failure) or 40P01 (deadlock_detected): retry the transaction.
struct PostgresRetryableFailure: Error {
    let sqlState: String
}

/// A thread-safe one-way flag.
final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var isSet = false
    var value: Bool { lock.withLock { isSet } }
    /// Sets the flag; returns false if it was already set.
    func set() -> Bool { lock.withLock { defer { isSet = true }; return !isSet } }
}

/// A thread-safe on/off switch.
final class LockedSwitch: @unchecked Sendable {
    private let lock = NSLock()
    private var isOn = false
    var value: Bool { lock.withLock { isOn } }
    func mark() { lock.withLock { isOn = true } }
    func clear() { lock.withLock { isOn = false } }
}

/// A thread-safe counter.
final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    func increment() { lock.withLock { count += 1 } }
}
