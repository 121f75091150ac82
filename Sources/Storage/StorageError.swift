/// Errors every storage backend reports. An open struct over a private enum, compared by code.
public struct StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Code: Sendable, Equatable { case notFound, alreadyExists, conflict, unavailable, corrupt }
    private let code: Code
    public let reason: String

    private init(_ code: Code, _ reason: String) { self.code = code; self.reason = reason }

    /// The object does not exist.
    public static let notFound = StorageError(.notFound, "not found")
    /// A create found the key taken.
    public static let alreadyExists = StorageError(.alreadyExists, "already exists")
    /// A compare-and-swap lost too many times in a row.
    public static let conflict = StorageError(.conflict, "conflict")
    public static func unavailable(_ reason: String) -> StorageError { StorageError(.unavailable, reason) }
    public static func corrupt(_ reason: String) -> StorageError { StorageError(.corrupt, reason) }

    public var isNotFound: Bool { code == .notFound }
    public var isAlreadyExists: Bool { code == .alreadyExists }
    public var isConflict: Bool { code == .conflict }
    public var isUnavailable: Bool { code == .unavailable }

    public static func == (a: StorageError, b: StorageError) -> Bool { a.code == b.code }
    public var description: String { "storage: \(reason)" }
}
