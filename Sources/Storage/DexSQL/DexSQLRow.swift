import Foundation

/// One value of a row of a Dex SQL table, whichever driver read it.
enum DexSQLValue: Sendable {
    case null
    case text(String)
    case blob(Data)
    case integer(Int64)
    case real(Double)
    case bool(Bool)
    case time(Date)
}

/// A row of a Dex SQL table by column name, with Dex's conventions for reading each column kind
/// (`storage/sql/crud.go`): list columns are JSON in `bytea`/`blob`, `[]byte` fields are raw
/// bytes, booleans are `boolean` (PostgreSQL) or `integer` 0/1 (SQLite, Dex's flavor rewrite),
/// and times are `timestamptz` (PostgreSQL) or go-sqlite3's text form (`DexSQLTime`).
///
/// A column a Dex version does not have yet (an older schema, before a migration added it) reads
/// as absent, and each accessor's fallback is the value that migration gave existing rows.
struct DexSQLRow: Sendable {
    let table: String
    let values: [String: DexSQLValue]

    func has(_ column: String) -> Bool {
        guard let value = values[column] else { return false }
        if case .null = value { return false }
        return true
    }

    /// A text column; bytes are read as UTF-8, a NULL or absent column as "".
    func text(_ column: String) -> String {
        switch values[column] {
        case .text(let text): text
        case .blob(let data): String(decoding: data, as: UTF8.self)
        case .integer(let value): String(value)
        case .real(let value): String(value)
        case .bool(let value): value ? "true" : "false"
        case .time, .null, nil: ""
        }
    }

    /// A `bytea` column (connector data, HMAC keys, bcrypt hashes), nil when NULL or absent.
    func bytes(_ column: String) -> Data? {
        switch values[column] {
        case .blob(let data): data
        case .text(let text): Data(text.utf8)
        default: nil
        }
    }

    func bool(_ column: String) throws -> Bool? {
        switch values[column] {
        case .bool(let value): return value
        case .integer(let value): return value != 0
        case .text(let text):
            switch text.lowercased() {
            case "1", "t", "true": return true
            case "0", "f", "false": return false
            default: throw corrupt(column, "is not a boolean")
            }
        case .null, nil: return nil
        default: throw corrupt(column, "is not a boolean")
        }
    }

    func integer(_ column: String) throws -> Int? {
        switch values[column] {
        case .integer(let value): return Int(value)
        case .real(let value):
            guard let integer = Int(exactly: value.rounded(.towardZero)) else { throw corrupt(column, "is not an integer") }
            return integer
        case .text(let text):
            guard let value = Int(text) else { throw corrupt(column, "is not an integer") }
            return value
        case .null, nil: return nil
        default: throw corrupt(column, "is not an integer")
        }
    }

    func time(_ column: String) throws -> Date? {
        switch values[column] {
        case .time(let date): return StorageCodec.date(microseconds: StorageCodec.microseconds(date))
        case .text(let text):
            guard let date = DexSQLTime.parse(text) else { throw corrupt(column, "is not a time") }
            return date
        case .integer(let seconds): return Date(timeIntervalSince1970: TimeInterval(seconds))
        case .real(let seconds):
            guard let microseconds = try? StorageCodec.microseconds(storedSeconds: seconds) else { throw corrupt(column, "is not a time") }
            return StorageCodec.date(microseconds: microseconds)
        case .null, nil: return nil
        default: throw corrupt(column, "is not a time")
        }
    }

    /// A JSON column (Dex's `encoder`/`decoder`): Go's JSON, so times are RFC 3339 and `[]byte`
    /// is base64. `null` (a nil Go slice) and a NULL or absent column read as nil.
    func json<T: Decodable>(_ column: String, as type: T.Type) throws -> T? {
        guard let data = bytes(column), !data.isEmpty else { return nil }
        do {
            return try EtcdJSON.decoder().decode(T?.self, from: data)
        } catch {
            throw corrupt(column, "is not the expected JSON (\(error))")
        }
    }

    private func corrupt(_ column: String, _ problem: String) -> StorageError {
        StorageError.corrupt("Dex \(table).\(column) \(problem)")
    }
}
