import Foundation

/// Times as Dex's SQLite flavor stores them.
///
/// Dex binds `time.Time` through mattn/go-sqlite3, which writes text in the layout
/// `2006-01-02 15:04:05.999999999-07:00` (Dex converts to UTC first, so the offset is `+00:00`),
/// and reads back any of its `SQLiteTimestampFormats` (a `T` or a space between date and time,
/// seconds and fraction optional, an offset or none meaning UTC, a trailing `Z`). Migration
/// defaults add one more: `'0001-01-01 00:00:00 UTC'`. Each is normalised to RFC 3339 and parsed
/// by `EtcdGoTime`, so no time zone database or process `TZ` is involved.
enum DexSQLTime {
    static func parse(_ raw: String) -> Date? {
        var text = raw.trimmingCharacters(in: .whitespaces)
        if text.hasSuffix(" UTC") { text.removeLast(4) }
        if text.hasSuffix("Z") || text.hasSuffix("z") { text.removeLast() }
        var chars = Array(text)
        guard chars.count >= 10 else { return nil }
        if chars.count == 10 { chars += Array(" 00:00:00") }
        guard chars[10] == " " || chars[10] == "T" || chars[10] == "t" else { return nil }
        chars[10] = "T"
        if chars.count == 16 { chars += Array(":00") }
        guard chars.count >= 19 else { return nil }
        // An offset can only follow the time of day (the date's own '-' come before index 10).
        let hasOffset = chars[19...].contains { $0 == "+" || $0 == "-" }
        return EtcdGoTime.parse(String(chars) + (hasOffset ? "" : "Z"))
    }
}
