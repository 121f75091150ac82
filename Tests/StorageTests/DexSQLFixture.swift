import FedgateCore
import Foundation
@testable import Storage

/// A Dex legacy SQL database built the way Dex builds one: its numbered migrations
/// (`storage/sql/migrate.go`, PostgreSQL dialect, rewritten by Dex's SQLite flavor for SQLite),
/// then rows inserted with the columns of `storage/sql/crud.go`: list fields as JSON bytes, `[]byte`
/// fields raw, booleans and times as each driver binds them. `expected` is what Fedgate must read.
enum DexSQLFixture {
    static let migrations: [[String]] = [
        [
            """
            create table client (id text not null primary key, secret text not null, redirect_uris bytea not null,
                trusted_peers bytea not null, public boolean not null, name text not null, logo_url text not null)
            """,
            """
            create table auth_request (id text not null primary key, client_id text not null,
                response_types bytea not null, scopes bytea not null, redirect_uri text not null, nonce text not null,
                state text not null, force_approval_prompt boolean not null, logged_in boolean not null,
                claims_user_id text not null, claims_username text not null, claims_email text not null,
                claims_email_verified boolean not null, claims_groups bytea not null, connector_id text not null,
                connector_data bytea, expiry timestamptz not null)
            """,
            """
            create table auth_code (id text not null primary key, client_id text not null, scopes bytea not null,
                nonce text not null, redirect_uri text not null, claims_user_id text not null,
                claims_username text not null, claims_email text not null, claims_email_verified boolean not null,
                claims_groups bytea not null, connector_id text not null, connector_data bytea,
                expiry timestamptz not null)
            """,
            """
            create table refresh_token (id text not null primary key, client_id text not null, scopes bytea not null,
                nonce text not null, claims_user_id text not null, claims_username text not null,
                claims_email text not null, claims_email_verified boolean not null, claims_groups bytea not null,
                connector_id text not null, connector_data bytea)
            """,
            "create table password (email text not null primary key, hash bytea not null, username text not null, user_id text not null)",
            """
            create table keys (id text not null primary key, verification_keys bytea not null, signing_key bytea not null,
                signing_key_pub bytea not null, next_rotation timestamptz not null)
            """,
        ],
        [
            "alter table refresh_token add column token text not null default ''",
            "alter table refresh_token add column created_at timestamptz not null default '0001-01-01 00:00:00 UTC'",
            "alter table refresh_token add column last_used timestamptz not null default '0001-01-01 00:00:00 UTC'",
        ],
        ["create table offline_session (user_id text not null, conn_id text not null, refresh bytea not null, PRIMARY KEY (user_id, conn_id))"],
        ["create table connector (id text not null primary key, type text not null, name text not null, resource_version text not null, config bytea)"],
        [
            "alter table auth_code add column claims_preferred_username text not null default ''",
            "alter table auth_request add column claims_preferred_username text not null default ''",
            "alter table refresh_token add column claims_preferred_username text not null default ''",
        ],
        ["alter table offline_session add column connector_data bytea"],
        [
            """
            create table device_request (user_code text not null primary key, device_code text not null,
                client_id text not null, client_secret text, scopes bytea not null, expiry timestamptz not null)
            """,
            """
            create table device_token (device_code text not null primary key, status text not null, token bytea,
                expiry timestamptz not null, last_request timestamptz not null, poll_interval integer not null)
            """,
        ],
        [
            "alter table auth_request add column code_challenge text not null default ''",
            "alter table auth_request add column code_challenge_method text not null default ''",
            "alter table auth_code add column code_challenge text not null default ''",
            "alter table auth_code add column code_challenge_method text not null default ''",
        ],
        ["alter table refresh_token add column obsolete_token text default ''"],
        [
            "alter table device_token add column code_challenge text not null default ''",
            "alter table device_token add column code_challenge_method text not null default ''",
        ],
        ["alter table auth_request add column hmac_key bytea"],
        [
            "alter table password add column preferred_username text not null default ''",
            "alter table password add column groups bytea not null default '[]'",
        ],
        [
            "alter table password add column name text not null default ''",
            "alter table password add column email_verified boolean",
        ],
    ]

    /// Dex's `flavorSQLite3` rewrite of a statement.
    static func sqlite(_ statement: String) -> String {
        var out = statement
        for (word, replacement) in [("boolean", "integer"), ("bytea", "blob"), ("timestamptz", "timestamp")] {
            out = out.replacingOccurrences(of: "\\b\(word)\\b", with: replacement, options: .regularExpression)
        }
        return out
    }

    enum Value {
        case text(String)
        case bytes(Data)
        case bool(Bool)
        case time(Date)
        case integer(Int)
        case null
    }

    /// Go's `json.Marshal` of a value, as Dex's `encoder` binds it.
    static func json(_ value: some Encodable) -> Value { .bytes(try! EtcdJSON.encode(value)) }

    static let now = Date(timeIntervalSince1970: 1_800_000_000.125)
    static let expiry = now.addingTimeInterval(600)
    static let yearOne = EtcdGoTime.parse("0001-01-01T00:00:00Z")!
    static let currentJWK = #"{"alg":"RS256","e":"AQAB","kid":"dex-current","kty":"RSA","n":"u1SU1LfVLPHCozMxH2Mo","use":"sig"}"#
    static let retiredJWK = #"{"alg":"RS256","e":"AQAB","kid":"dex-retired","kty":"RSA","n":"0vx7agoebGcQSuuPiLJX","use":"sig"}"#
    static let privateJWK = #"{"alg":"RS256","d":"X4cTteJY_gn4FYPsXB8r","e":"AQAB","kid":"dex-current","kty":"RSA","n":"u1SU1LfVLPHCozMxH2Mo"}"#

    struct Ref: Encodable {
        // Dex's RefreshTokenRef has no JSON tags: Go writes the field names as they are.
        var ID: String
        var ClientID: String
        var CreatedAt: Date
        var LastUsed: Date
    }

    /// (table, columns and values) in insertion order.
    static var rows: [(String, [(String, Value)])] {
        let claims: [(String, Value)] = [
            ("claims_user_id", .text("u-1")), ("claims_username", .text("Jane")), ("claims_preferred_username", .text("jane")),
            ("claims_email", .text("jane@example.com")), ("claims_email_verified", .bool(true)),
            ("claims_groups", json(["admins", "ops"])),
        ]
        return [
            ("client", [("id", .text("app")), ("secret", .text("s3cret")), ("redirect_uris", json(["https://app.example/cb"])),
                        ("trusted_peers", .bytes(Data("null".utf8))), ("public", .bool(false)), ("name", .text("App")),
                        ("logo_url", .text("https://app.example/logo.png"))]),
            ("client", [("id", .text("cli")), ("secret", .text("")), ("redirect_uris", json([String]())),
                        ("trusted_peers", json(["app"])), ("public", .bool(true)), ("name", .text("CLI")), ("logo_url", .text(""))]),
            ("password", [("email", .text("jane@example.com")), ("hash", .bytes(Data("$2a$10$abcdefghijklmnopqrstuv".utf8))),
                          ("username", .text("jane")), ("user_id", .text("u-1")), ("preferred_username", .text("jj")),
                          ("groups", json(["ops"])), ("name", .text("Jane Doe")), ("email_verified", .bool(false))]),
            // A row from before the profile columns: NULL email_verified.
            ("password", [("email", .text("old@example.com")), ("hash", .bytes(Data("$2a$10$zyx".utf8))),
                          ("username", .text("old")), ("user_id", .text("u-old"))]),
            ("refresh_token", [("id", .text("rt-1")), ("client_id", .text("app")),
                               ("scopes", json(["openid", "offline_access"])), ("nonce", .text("n-1"))] + claims
                + [("connector_id", .text("ldap")), ("connector_data", .bytes(Data([0, 1, 0xFE]))), ("token", .text("tok-1")),
                   ("obsolete_token", .text("tok-0")), ("created_at", .time(now)), ("last_used", .time(now.addingTimeInterval(30)))]),
            // A token from before migration 2's columns were filled: their defaults apply.
            ("refresh_token", [("id", .text("rt-2")), ("client_id", .text("cli")), ("scopes", json(["openid"])),
                               ("nonce", .text("")), ("claims_user_id", .text("u-2")), ("claims_username", .text("bob")),
                               ("claims_email", .text("bob@example.com")), ("claims_email_verified", .bool(false)),
                               ("claims_groups", .bytes(Data("null".utf8))), ("connector_id", .text("local")),
                               ("connector_data", .null)]),
            ("offline_session", [("user_id", .text("u-1")), ("conn_id", .text("ldap")),
                                 ("refresh", json(["app": Ref(ID: "rt-1", ClientID: "app", CreatedAt: now, LastUsed: now)])),
                                 ("connector_data", .bytes(Data("session".utf8)))]),
            ("keys", [("id", .text("keys")),
                      ("verification_keys", .bytes(Data(#"[{"publicKey":\#(retiredJWK),"expiry":"2027-01-15T08:00:00.5Z"}]"#.utf8))),
                      ("signing_key", .bytes(Data(privateJWK.utf8))), ("signing_key_pub", .bytes(Data(currentJWK.utf8))),
                      ("next_rotation", .time(now.addingTimeInterval(3600)))]),
            ("connector", [("id", .text("ldap")), ("type", .text("ldap")), ("name", .text("Corp LDAP")),
                           ("resource_version", .text("3")), ("config", .bytes(Data(#"{"host":"ldap.example:636"}"#.utf8)))]),
            ("auth_request", [("id", .text("ar-1")), ("client_id", .text("app")), ("response_types", json(["code"])),
                              ("scopes", json(["openid"])), ("redirect_uri", .text("https://app.example/cb")),
                              ("nonce", .text("n")), ("state", .text("st")), ("force_approval_prompt", .bool(true)),
                              ("logged_in", .bool(true))] + claims
                + [("connector_id", .text("ldap")), ("connector_data", .null), ("expiry", .time(expiry)),
                   ("code_challenge", .text("ch")), ("code_challenge_method", .text("S256")),
                   ("hmac_key", .bytes(Data(repeating: 9, count: 32)))]),
            ("auth_code", [("id", .text("code-1")), ("client_id", .text("app")), ("scopes", json(["openid"])),
                           ("nonce", .text("n")), ("redirect_uri", .text("https://app.example/cb"))] + claims
                + [("connector_id", .text("ldap")), ("connector_data", .bytes(Data("cd".utf8))), ("expiry", .time(expiry)),
                   ("code_challenge", .text("")), ("code_challenge_method", .text(""))]),
            ("device_request", [("user_code", .text("ABCD-EFGH")), ("device_code", .text("dev-1")), ("client_id", .text("cli")),
                                ("client_secret", .null), ("scopes", json(["openid", "profile"])), ("expiry", .time(expiry))]),
            ("device_token", [("device_code", .text("dev-1")), ("status", .text("complete")),
                              ("token", .bytes(Data(#"{"access_token":"a"}"#.utf8))), ("expiry", .time(expiry)),
                              ("last_request", .time(now)), ("poll_interval", .integer(7)),
                              ("code_challenge", .text("")), ("code_challenge_method", .text(""))]),
        ]
    }
}
