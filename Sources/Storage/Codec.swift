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
    /// Unix time in whole microseconds (rounded to nearest), clamped to what 64 bits hold
    /// (about ±292,000 years), so no date can trap the conversion.
    public static func microseconds(_ date: Date) -> Int64 {
        let value = (date.timeIntervalSince1970 * 1_000_000).rounded()
        guard value.isFinite else { return value.isNaN ? 0 : (value < 0 ? .min : .max) }
        return Int64(exactly: value) ?? (value < 0 ? .min : .max)
    }

    /// The microseconds of a stored number of Unix seconds; a value that is not a finite time
    /// within 64 bits of microseconds (`1e300`, `inf` from a damaged row) is corrupt storage,
    /// never a trap.
    public static func microseconds(storedSeconds seconds: Double) throws -> Int64 {
        let value = (seconds * 1_000_000).rounded()
        guard value.isFinite, let microseconds = Int64(exactly: value) else {
            throw StorageError.corrupt("stored time \(seconds) is out of range")
        }
        return microseconds
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
            return date(microseconds: try microseconds(storedSeconds: seconds))
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
        // The two bodies every refresh grant reads are read directly when they have the exact
        // shape the encoder writes; any other text takes the decoder (`StorageCodecTests`).
        if T.self == RefreshToken.self, let token = RefreshToken(storageJSON: text) { return token as! T }
        if T.self == Password.self, let password = Password(storageJSON: text) { return password as! T }
        do {
            return try sharedDecoder.decode(type, from: Data(text.utf8))
        } catch {
            throw StorageError.corrupt("cannot decode stored \(T.self): \(error)")
        }
    }
}

/// The date `makeDecoder()` makes of a stored number of seconds.
private func storedDate(_ reader: inout JSONReader) throws -> Date {
    StorageCodec.date(microseconds: try StorageCodec.microseconds(storedSeconds: try reader.double()))
}

/// Reads `text` as one object, `member` reading each member's value; false when the text is not
/// an object of the shape `member` accepts.
private func readStoredObject(_ text: String, _ member: (String, inout JSONReader) throws -> Void) -> Bool {
    do {
        try JSONReader.read(text) { reader in try reader.object(member) }
        return true
    } catch {
        return false
    }
}

/// The members of a body, each allowed once; the reader then checks none was missing.
private struct Members {
    private var seen: UInt32 = 0
    /// Records member `bit`; a second occurrence throws (the decoder's choice is not ours to guess).
    mutating func mark(_ bit: Int, _ key: String) throws {
        guard seen & (1 << bit) == 0 else { throw JSONReaderError.unexpectedMember(key) }
        seen |= 1 << bit
    }
    /// Whether every member whose bit is in `required` was read.
    func hasAll(_ required: UInt32) -> Bool { seen & required == required }
}

extension Claims {
    /// `Claims` as a nested body member (every field required, as its synthesized decoder does).
    init(storageJSON reader: inout JSONReader) throws {
        var userID = "", username = "", preferredUsername = "", email = "", emailVerified = false, groups: [String] = []
        var members = Members()
        try reader.object { key, reader in
            switch key {
            case "userID": try members.mark(0, key); userID = try reader.string()
            case "username": try members.mark(1, key); username = try reader.string()
            case "preferredUsername": try members.mark(2, key); preferredUsername = try reader.string()
            case "email": try members.mark(3, key); email = try reader.string()
            case "emailVerified": try members.mark(4, key); emailVerified = try reader.bool()
            case "groups": try members.mark(5, key); groups = try reader.strings()
            default: throw JSONReaderError.unexpectedMember(key)
            }
        }
        guard members.hasAll(0b11_1111) else { throw JSONReaderError.unexpectedMember("(missing)") }
        self.init(userID: userID, username: username, preferredUsername: preferredUsername, email: email,
                  emailVerified: emailVerified, groups: groups)
    }
}

extension Password {
    /// The body as `StorageCodec.makeDecoder()` reads it, or nil when the text has another shape
    /// (the decoder then decides).
    init?(storageJSON text: String) {
        var email = "", hash = "", username = "", name = "", preferredUsername = "", emailVerified = false
        var userID = "", groups: [String] = []
        var members = Members()
        let read = readStoredObject(text) { key, reader in
            switch key {
            case "email": try members.mark(0, key); email = try reader.string()
            case "hash": try members.mark(1, key); hash = try reader.string()
            case "username": try members.mark(2, key); username = try reader.string()
            case "name": try members.mark(3, key); name = try reader.string()
            case "preferredUsername": try members.mark(4, key); preferredUsername = try reader.string()
            case "emailVerified": try members.mark(5, key); emailVerified = try reader.bool()
            case "userID": try members.mark(6, key); userID = try reader.string()
            case "groups": try members.mark(7, key); groups = try reader.strings()
            default: throw JSONReaderError.unexpectedMember(key)
            }
        }
        guard read, members.hasAll(0b1111_1111) else { return nil }
        self.init(email: email, hash: hash, username: username, name: name, preferredUsername: preferredUsername,
                  emailVerified: emailVerified, userID: userID, groups: groups)
    }
}

extension RefreshToken {
    /// The body as `StorageCodec.makeDecoder()` reads it, or nil when the text has another shape
    /// (the decoder then decides). `connectorData` and `authTime` may be absent or null.
    init?(storageJSON text: String) {
        var id = "", token = "", obsoleteToken = "", clientID = "", connectorID = "", nonce = "", authCodeID = ""
        var createdAt = Date(timeIntervalSince1970: 0), lastUsed = createdAt
        var connectorData: Data?, authTime: Date?, scopes: [String] = []
        var claims = Claims(userID: "", username: "")
        var members = Members()
        let read = readStoredObject(text) { key, reader in
            switch key {
            case "id": try members.mark(0, key); id = try reader.string()
            case "token": try members.mark(1, key); token = try reader.string()
            case "obsoleteToken": try members.mark(2, key); obsoleteToken = try reader.string()
            case "createdAt": try members.mark(3, key); createdAt = try storedDate(&reader)
            case "lastUsed": try members.mark(4, key); lastUsed = try storedDate(&reader)
            case "clientID": try members.mark(5, key); clientID = try reader.string()
            case "connectorID": try members.mark(6, key); connectorID = try reader.string()
            case "claims": try members.mark(7, key); claims = try Claims(storageJSON: &reader)
            case "scopes": try members.mark(8, key); scopes = try reader.strings()
            case "nonce": try members.mark(9, key); nonce = try reader.string()
            case "authCodeID": try members.mark(10, key); authCodeID = try reader.string()
            case "connectorData":
                try members.mark(11, key)
                if !reader.null() {
                    // The decoder's default `.base64` strategy: standard alphabet, padded.
                    guard let data = Data(base64Encoded: try reader.string()) else {
                        throw JSONReaderError.unexpectedMember(key)
                    }
                    connectorData = data
                }
            case "authTime":
                try members.mark(12, key)
                if !reader.null() { authTime = try storedDate(&reader) }
            default: throw JSONReaderError.unexpectedMember(key)
            }
        }
        guard read, members.hasAll(0b111_1111_1111) else { return nil }
        self.init(id: id, token: token, obsoleteToken: obsoleteToken, createdAt: createdAt, lastUsed: lastUsed,
                  clientID: clientID, connectorID: connectorID, connectorData: connectorData, claims: claims,
                  scopes: scopes, nonce: nonce, authCodeID: authCodeID, authTime: authTime)
    }

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
