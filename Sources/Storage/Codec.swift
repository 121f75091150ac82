import FedgateCore
import Foundation

/// The JSON and time encodings persistent backends use for object bodies.
///
/// Times are stored as UTC Unix time at microsecond precision, never as local wall-clock
/// strings, so the process time zone (`TZ=Asia/Kolkata`) cannot change what is written or how
/// expiries compare. Inside JSON bodies a time is a number of Unix seconds with a fractional
/// part (`1700000000.123456`); indexed columns hold whole Unix microseconds as integers, so
/// SQL comparisons are exact.
///
/// Any `Date` whose Unix time is a whole number of microseconds (in particular every date
/// rounded to the millisecond, as the conformance suite uses) reads back `==` to what was written.
public enum StorageCodec {
    /// Unix time in whole microseconds (rounded to nearest).
    public static func microseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
    }

    /// The date for a Unix time in microseconds.
    ///
    /// `Double(us) / 1e6` is the correctly rounded value of the exact rational, the same double
    /// `Date(timeIntervalSince1970: ms / 1000)` was made from, so millisecond dates round-trip exactly.
    public static func date(microseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(microseconds) / 1_000_000)
    }

    /// A JSON encoder writing dates as Unix seconds with a microsecond fraction.
    public static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Double(microseconds(date)) / 1_000_000)
        }
        return encoder
    }

    /// The decoder matching `makeEncoder()`.
    public static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let seconds = try decoder.singleValueContainer().decode(Double.self)
            // The stored double is within half an ulp (~0.1 µs) of the microsecond value, so
            // rounding recovers the exact microsecond count.
            return date(microseconds: Int64((seconds * 1_000_000).rounded()))
        }
        return decoder
    }

    /// One encoder and one decoder for every body (both are safe to use from many threads at once;
    /// making them per call cost an allocation and a closure per row on the token path).
    private static let sharedEncoder = makeEncoder()
    private static let sharedDecoder = makeDecoder()

    /// Encodes an object body as JSON text.
    public static func encode<T: Encodable>(_ value: T) throws -> String {
        // A refresh token is written on every grant: its body is written directly (the same
        // document as the encoder's; `StorageCodecTests` compares them).
        if let token = value as? RefreshToken { return try token.storageJSON() }
        let data = try sharedEncoder.encode(value)
        return String(decoding: data, as: UTF8.self)
    }

    /// Decodes an object body; a body that does not decode is reported as corrupt storage.
    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        do {
            return try sharedDecoder.decode(type, from: Data(text.utf8))
        } catch {
            throw StorageError.corrupt("cannot decode stored \(T.self): \(error)")
        }
    }
}

extension RefreshToken {
    /// The body `StorageCodec.makeEncoder()` writes for this token (sorted keys, times as Unix
    /// seconds with a microsecond fraction, connector data as base64, nil members left out).
    func storageJSON() throws -> String {
        func seconds(_ date: Date) throws -> Double {
            // Beyond ±9e12 s (or NaN) the microsecond count does not fit an Int64.
            guard abs(date.timeIntervalSince1970) < 9e12 else { throw JSONWriterError.nonFiniteNumber("time") }
            return Double(StorageCodec.microseconds(date)) / 1_000_000
        }
        let bytes = try JSONWriter.object(capacity: 1024) { json in
            json.member("authCodeID", authCodeID)
            if let authTime { try json.member("authTime", try seconds(authTime)) }
            json.member("claims") { inner in
                inner.member("email", claims.email)
                inner.member("emailVerified", claims.emailVerified)
                inner.member("groups", claims.groups)
                inner.member("preferredUsername", claims.preferredUsername)
                inner.member("userID", claims.userID)
                inner.member("username", claims.username)
            }
            json.member("clientID", clientID)
            json.member("connectorData", ifPresent: connectorData?.base64EncodedString())
            json.member("connectorID", connectorID)
            try json.member("createdAt", try seconds(createdAt))
            json.member("id", id)
            try json.member("lastUsed", try seconds(lastUsed))
            json.member("nonce", nonce)
            json.member("obsoleteToken", obsoleteToken)
            json.member("scopes", scopes)
            json.member("token", token)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
