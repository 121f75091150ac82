import Synchronization

/// Rows that `get` just read, kept for the `update` of the same key that usually follows.
///
/// A refresh grant reads its token, then rotates it with a compare-and-swap that needs the row's
/// current body as the expected value. Re-reading the row for that costs a statement (SQLite) or
/// a round trip (PostgreSQL) and a JSON decode per grant, while the body was read a moment ago.
/// `update` takes the remembered body instead; the compare-and-swap (`WHERE … AND data = ?`)
/// still decides: if any writer (this process or another replica) changed the row since, the
/// write matches nothing and `update` reads the row as it always did. So a stale entry costs one
/// statement, never a lost write.
///
/// Only tables that opt in (`remembersReads` on `SQLiteTable` and `PostgresTable`) are kept; an
/// entry is taken (removed) by the update that uses it, and the whole set is bounded.
final class RecentReads: Sendable {
    struct Entry: @unchecked Sendable {
        /// The body exactly as stored: the compare-and-swap's expected value.
        let text: String
        /// `text` decoded (a value of the table's object type, itself `Sendable`).
        let object: Any
    }

    /// More than the grants in flight at once; reaching it means entries nobody updates piled up.
    static let capacity = 1024
    private let entries = Mutex<[String: Entry]>([:])

    /// The entry name of one row: table and key columns.
    static func slot(_ table: String, _ key: [String]) -> String {
        ([table] + key).joined(separator: "\u{0}")
    }

    func remember(_ slot: String, text: String, object: some Sendable) {
        entries.withLock { entries in
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[slot] = Entry(text: text, object: object)
        }
    }

    func take(_ slot: String) -> Entry? {
        entries.withLock { $0.removeValue(forKey: slot) }
    }

    func forget(_ slot: String) {
        _ = take(slot)
    }

    var count: Int { entries.withLock { $0.count } }
}
