import FedgateCore
import Foundation
import Logging
import PostgresNIO
import SQLiteNIO
import Testing
@testable import Storage

/// `DexSQLReader` against databases in Dex's own legacy SQL schema (`DexSQLFixture`): a SQLite
/// file as Dex's `sqlite3` storage writes it, and a real PostgreSQL database as Dex's `postgres`
/// storage writes it. Every object must come back exactly as the Fedgate model it stands for.
@Suite("DexSQLReader")
struct DexSQLReaderTests {
    static let expectedKeys = Keys(
        verificationKeys: [
            VerificationKey(kid: "dex-retired", publicJWK: DexSQLFixture.retiredJWK,
                            expiry: EtcdGoTime.parse("2027-01-15T08:00:00.5Z")!),
            VerificationKey(kid: "dex-current", publicJWK: DexSQLFixture.currentJWK,
                            expiry: DexSQLFixture.now.addingTimeInterval(3600 + Keys.dexDefaultIDTokenLifetime)),
        ],
        nextRotation: Date(timeIntervalSince1970: 0))

    /// Every list of the reader against the fixture's expectations.
    static func expectFixture(_ reader: DexSQLReader) async throws {
        #expect(try await reader.listClients() == DexSQLFixture.clients)
        #expect(try await reader.listPasswords() == DexSQLFixture.passwords)
        #expect(try await reader.listRefreshTokens() == DexSQLFixture.refreshTokens)
        #expect(try await reader.listOfflineSessions() == DexSQLFixture.sessions)
        #expect(try await reader.listConnectors() == DexSQLFixture.connectors)
        #expect(try await reader.listAuthRequests() == DexSQLFixture.authRequests)
        #expect(try await reader.listAuthCodes() == DexSQLFixture.authCodes)
        #expect(try await reader.listDeviceRequests() == DexSQLFixture.deviceRequests)
        #expect(try await reader.listDeviceTokens() == DexSQLFixture.deviceTokens)
        #expect(try await reader.listLoginThrottles() == [])
        #expect(try await reader.getKeys() == expectedKeys)
        // The refresh token a Dex client holds names a record the reader returns, secret included.
        let held = DexEncoding.refreshToken(id: "rt-1", token: "tok-1")
        let (id, token) = try #require(DexEncoding.decodeRefreshToken(held))
        let record = try #require(try await reader.listRefreshTokens().first { $0.id == id })
        #expect(ConstantTime.equals(record.token, token))
    }

    // MARK: SQLite

    /// Builds the fixture in a new SQLite file with sqlite-nio, binding values as go-sqlite3 does
    /// (booleans as 0/1, `[]byte` as blobs, times as `2006-01-02 15:04:05.999999999-07:00` text).
    static func makeDexSQLite(at path: String, extraClients: Int = 0) async throws {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: testLogger)
        do {
            _ = try await connection.query("create table if not exists migrations (num integer not null, at timestamp not null)")
            for (index, statements) in DexSQLFixture.migrations.enumerated() {
                for statement in statements { _ = try await connection.query(DexSQLFixture.sqlite(statement)) }
                _ = try await connection.query("insert into migrations (num, at) values (?, date('now'))", [.integer(index + 1)])
            }
            for (table, columns) in DexSQLFixture.rows {
                let names = columns.map(\.0).joined(separator: ", ")
                let marks = Array(repeating: "?", count: columns.count).joined(separator: ", ")
                _ = try await connection.query("insert into \(table) (\(names)) values (\(marks))", columns.map { sqliteValue($0.1) })
            }
            if extraClients > 0 {
                _ = try await connection.query("""
                    with recursive n(i) as (select 1 union all select i + 1 from n where i < \(extraClients))
                    insert into client (id, secret, redirect_uris, trusted_peers, public, name, logo_url)
                    select printf('bulk-%05d', i), '', x'5b5d', x'5b5d', 0, 'Bulk ' || i, '' from n
                    """)
            }
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }

    static func sqliteValue(_ value: DexSQLFixture.Value) -> SQLiteData {
        switch value {
        case .text(let text): .text(text)
        case .bytes(let data): .blob(ByteBuffer(bytes: data))
        case .bool(let flag): .integer(flag ? 1 : 0)
        case .integer(let number): .integer(number)
        case .null: .null
        case .time(let date):
            // EtcdGoTime writes RFC 3339 in UTC; go-sqlite3's layout has a space and `+00:00`.
            .text(EtcdGoTime.format(date).replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: "+00:00"))
        }
    }

    @Test("reads every object of a Dex SQLite database as the model it stands for")
    func sqliteFixture() async throws {
        try await withTemporaryDirectory { directory in
            let path = freshDatabasePath(in: directory)
            try await Self.makeDexSQLite(at: path)
            let reader = try #require(try await DexSQLReader.openIfDex(sqliteFile: path, logger: testLogger))
            #expect(reader.flavor == .sqlite3)
            try await Self.expectFixture(reader)
            try await reader.close()
        }
    }

    @Test("reads a table larger than one page completely, in key order, each row once")
    func sqlitePaging() async throws {
        try await withTemporaryDirectory { directory in
            let path = freshDatabasePath(in: directory)
            try await Self.makeDexSQLite(at: path, extraClients: 1_201)
            let reader = try #require(try await DexSQLReader.openIfDex(sqliteFile: path, logger: testLogger))
            let ids = try await reader.listClients().map(\.id)
            #expect(ids == ["app"] + (1...1_201).map { String(format: "bulk-%05d", $0) } + ["cli"])
            try await reader.close()
        }
    }

    @Test("Fedgate's own SQLite schema and a missing file are not taken for Dex's")
    func sqliteDetection() async throws {
        try await withTemporaryDirectory { directory in
            let missing = freshDatabasePath(in: directory)
            #expect(try await DexSQLReader.openIfDex(sqliteFile: missing, logger: testLogger) == nil)
            #expect(!FileManager.default.fileExists(atPath: missing), "probing must not create the file")

            let own = freshDatabasePath(in: directory)
            let store = try await SQLiteStorage.open(file: own, logger: testLogger)
            try await store.createClient(Client(id: "mine"))
            try await store.close()
            #expect(try await DexSQLReader.openIfDex(sqliteFile: own, logger: testLogger) == nil)
            // The probe left the file usable as Fedgate's store.
            let again = try await SQLiteStorage.open(file: own, logger: testLogger)
            #expect(try await again.getClient(id: "mine") == Client(id: "mine"))
            try await again.close()
        }
    }

    @Test("go-sqlite3's time layouts and Dex's migration default all parse, in UTC")
    func sqliteTimes() {
        let expected = EtcdGoTime.parse("2027-01-15T08:00:00.123456Z")!
        #expect(DexSQLTime.parse("2027-01-15 08:00:00.123456000+00:00") == expected)
        // Nanoseconds round to Fedgate's precision, the microsecond.
        #expect(DexSQLTime.parse("2027-01-15 08:00:00.123455501+00:00") == expected)
        #expect(DexSQLTime.parse("2027-01-15T13:30:00.123456+05:30") == expected)
        #expect(DexSQLTime.parse("2027-01-15 08:00:00.123456") == expected)
        #expect(DexSQLTime.parse("2027-01-15T08:00:00.123456Z") == expected)
        #expect(DexSQLTime.parse("2027-01-15 08:00") == EtcdGoTime.parse("2027-01-15T08:00:00Z"))
        #expect(DexSQLTime.parse("2027-01-15") == EtcdGoTime.parse("2027-01-15T00:00:00Z"))
        #expect(DexSQLTime.parse("0001-01-01 00:00:00 UTC") == DexSQLFixture.yearOne)
        #expect(DexSQLTime.parse("yesterday") == nil)
    }

    // MARK: PostgreSQL

    /// Builds the fixture in a fresh database of the test server through postgres-nio, binding
    /// values as lib/pq does (bytea, boolean, timestamptz).
    static func makeDexPostgres(_ server: PostgresTestServer, extraClients: Int = 0) async throws -> PostgresOptions {
        let options = server.options(database: try await server.createDatabase())
        let client = PostgresClient(configuration: try PostgresStorage.makeConfiguration(options), backgroundLogger: testLogger)
        let run = Task { await client.run() }
        defer { run.cancel() }
        func execute(_ sql: String, _ values: [DexSQLFixture.Value] = []) async throws {
            var binds = PostgresBindings(capacity: values.count)
            for value in values {
                switch value {
                case .text(let text): binds.append(text)
                case .bytes(let data): try binds.append(data)
                case .bool(let flag): binds.append(flag)
                case .time(let date): binds.append(date)
                case .integer(let number): binds.append(Int32(number))
                case .null: binds.appendNull()
                }
            }
            _ = try await client.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: testLogger).collect()
        }
        try await execute("create table if not exists migrations (num integer not null, at timestamptz not null)")
        for (index, statements) in DexSQLFixture.migrations.enumerated() {
            for statement in statements { try await execute(statement) }
            try await execute("insert into migrations (num, at) values ($1, now())", [.integer(index + 1)])
        }
        for (table, columns) in DexSQLFixture.rows {
            let marks = columns.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
            try await execute("insert into \(table) (\(columns.map(\.0).joined(separator: ", "))) values (\(marks))",
                              columns.map(\.1))
        }
        if extraClients > 0 {
            try await execute("""
                insert into client (id, secret, redirect_uris, trusted_peers, public, name, logo_url)
                select 'bulk-' || lpad(i::text, 5, '0'), '', '[]'::bytea, '[]'::bytea, false, 'Bulk ' || i, ''
                from generate_series(1, \(extraClients)) as i
                """)
        }
        return options
    }

    @Test("reads every object of a Dex PostgreSQL database as the model it stands for")
    func postgresFixture() async throws {
        let server = try await PostgresTestServer.shared
        let options = try await Self.makeDexPostgres(server)
        let reader = try #require(try await DexSQLReader.openIfDex(postgres: options, logger: testLogger))
        #expect(reader.flavor == .postgres)
        try await Self.expectFixture(reader)
        try await reader.close()
    }

    @Test("reads a PostgreSQL table larger than one page completely, each row once")
    func postgresPaging() async throws {
        let server = try await PostgresTestServer.shared
        let options = try await Self.makeDexPostgres(server, extraClients: 1_201)
        let reader = try #require(try await DexSQLReader.openIfDex(postgres: options, logger: testLogger))
        let ids = try await reader.listClients().map(\.id)
        #expect(ids == ["app"] + (1...1_201).map { String(format: "bulk-%05d", $0) } + ["cli"])
        try await reader.close()
    }

    @Test("Fedgate's own PostgreSQL schema is not taken for Dex's")
    func postgresDetection() async throws {
        let server = try await PostgresTestServer.shared
        let store = try await server.freshStore()
        let options = store.options
        try await store.close()
        #expect(try await DexSQLReader.openIfDex(postgres: options, logger: testLogger) == nil)
    }
}
