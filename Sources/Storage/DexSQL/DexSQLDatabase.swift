import Foundation

/// The few things `DexSQLReader` asks of a database holding Dex's schema.
protocol DexSQLDatabase: Sendable {
    /// Column names of `table` in the current schema (empty when there is no such table).
    func columns(of table: String) async throws -> Set<String>
    /// Up to `limit` rows of `table` in key order, after the key `after` (keyset paging, so each
    /// page is an index range scan however deep into the table it is).
    func page(of table: DexSQLTable, after: [String]?, limit: Int) async throws -> [DexSQLRow]
    func close() async throws
}

extension DexSQLDatabase {
    /// Dex's legacy SQL schema, told apart from Fedgate's own (which reuses Dex's table names):
    /// Dex's `migrations` has `num` (Fedgate's SQLite table has `version`) and Dex's
    /// `refresh_token` has one column per field, `claims_user_id` among them (Fedgate keeps a
    /// JSON body in `data`).
    func hasDexSchema() async throws -> Bool {
        guard try await columns(of: "migrations").contains("num") else { return false }
        return try await columns(of: "refresh_token").contains("claims_user_id")
    }

    /// `WHERE (k1, k2) > (?, ?)` with the placeholders `placeholder` makes (row values compare
    /// lexicographically in both SQLite and PostgreSQL), and the matching `ORDER BY`.
    static func keysetClause(_ table: DexSQLTable, after: [String]?, placeholder: (Int) -> String) -> String {
        let keys = table.keyColumns.joined(separator: ", ")
        var clause = ""
        if after != nil {
            let marks = table.keyColumns.indices.map { placeholder($0 + 1) }.joined(separator: ", ")
            clause = table.keyColumns.count == 1 ? " WHERE \(keys) > \(marks)" : " WHERE (\(keys)) > (\(marks))"
        }
        return clause + " ORDER BY \(keys)"
    }
}
