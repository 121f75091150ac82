"""`fedgate storage copy` from a Dex SQLite database in Dex's own legacy SQL schema (issue 5 item 6).

The database is built as Dex builds it: its migrations (`storage/sql/migrate.go`) through Dex's
SQLite flavor rewrite, rows with the columns of `storage/sql/crud.go` (lists as JSON blobs, times
as go-sqlite3 writes them). After the copy, Fedgate serves the copy: Dex's refresh token still
refreshes (same record ID), the bcrypt hash still logs in, and Dex's public keys are published.
"""

from __future__ import annotations

import base64
import json
import re
import sqlite3
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

from joserfc.jwk import RSAKey

from e2e_support.oidc import b64url, dex_subject, new_session, token_request, verify_id_token
from e2e_support.server import ADMIN_HASH, ADMIN_PASSWORD, REDIRECT_URI

# Dex's migrations in its PostgreSQL dialect, in order (one entry per migration number).
CLAIMS = ("claims_user_id text not null, claims_username text not null, claims_email text not null, "
          "claims_email_verified boolean not null, claims_groups bytea not null")
# Dex's migrations in its PostgreSQL dialect, in order (one entry per migration number).
DEX_MIGRATIONS: list[list[str]] = [
    [
        "create table client (id text not null primary key, secret text not null, redirect_uris bytea not null, "
        "trusted_peers bytea not null, public boolean not null, name text not null, logo_url text not null);",
        "create table auth_request (id text not null primary key, client_id text not null, response_types bytea not null, "
        "scopes bytea not null, redirect_uri text not null, nonce text not null, state text not null, "
        f"force_approval_prompt boolean not null, logged_in boolean not null, {CLAIMS}, connector_id text not null, "
        "connector_data bytea, expiry timestamptz not null);",
        "create table auth_code (id text not null primary key, client_id text not null, scopes bytea not null, "
        f"nonce text not null, redirect_uri text not null, {CLAIMS}, connector_id text not null, connector_data bytea, "
        "expiry timestamptz not null);",
        "create table refresh_token (id text not null primary key, client_id text not null, scopes bytea not null, "
        f"nonce text not null, {CLAIMS}, connector_id text not null, connector_data bytea);",
        "create table password (email text not null primary key, hash bytea not null, username text not null, "
        "user_id text not null);",
        "create table keys (id text not null primary key, verification_keys bytea not null, signing_key bytea not null, "
        "signing_key_pub bytea not null, next_rotation timestamptz not null);",
    ],
    [f"alter table refresh_token add column {c};" for c in (
        "token text not null default ''", "created_at timestamptz not null default '0001-01-01 00:00:00 UTC'",
        "last_used timestamptz not null default '0001-01-01 00:00:00 UTC'")],
    ["create table offline_session (user_id text not null, conn_id text not null, refresh bytea not null, "
     "PRIMARY KEY (user_id, conn_id));"],
    ["create table connector (id text not null primary key, type text not null, name text not null, "
     "resource_version text not null, config bytea);"],
    [f"alter table {t} add column claims_preferred_username text not null default '';"
     for t in ("auth_code", "auth_request", "refresh_token")],
    ["alter table offline_session add column connector_data bytea;"],
    [
        "create table device_request (user_code text not null primary key, device_code text not null, "
        "client_id text not null, client_secret text, scopes bytea not null, expiry timestamptz not null);",
        "create table device_token (device_code text not null primary key, status text not null, token bytea, "
        "expiry timestamptz not null, last_request timestamptz not null, poll_interval integer not null);",
    ],
    [f"alter table {t} add column {c} text not null default '';"
     for t in ("auth_request", "auth_code") for c in ("code_challenge", "code_challenge_method")],
    ["alter table refresh_token add column obsolete_token text default '';"],
    [f"alter table device_token add column {c} text not null default '';" for c in ("code_challenge", "code_challenge_method")],
    ["alter table auth_request add column hmac_key bytea;"],
    ["alter table password add column preferred_username text not null default '';",
     "alter table password add column groups bytea not null default '[]';"],
    ["alter table password add column name text not null default '';",
     "alter table password add column email_verified boolean;"],
]

DEX_CLIENT_ID = "dex-app"
DEX_CLIENT_SECRET = "dex-app-secret"
USER_EMAIL = "carol@example.com"
USER_ID = "b7e1c0de-5a1e-4c0b-9d7e-carol0000001"
REFRESH_ID = "qyrmdn2vuhbgemg5ezvuhflw2"
REFRESH_SECRET = "xqkyfqnfglehzkf3acmnsbc6s"
SCOPES = ["openid", "email", "profile", "groups", "offline_access"]


def sqlite_flavor(statement: str) -> str:
    """Dex's `flavorSQLite3` rewrite of its PostgreSQL statements."""
    for word, replacement in (("boolean", "integer"), ("bytea", "blob"), ("timestamptz", "timestamp")):
        statement = re.sub(rf"\b{word}\b", replacement, statement)
    return statement


def go_sqlite_time(moment: datetime) -> str:
    """mattn/go-sqlite3's text for a UTC time.Time: `2006-01-02 15:04:05.999999999-07:00`."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f") + "123+00:00"


def go_json_time(moment: datetime) -> str:
    """Go's JSON for time.Time (RFC 3339 with nanoseconds)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "456Z"


def blob(value) -> bytes:
    """Dex's `encoder(...)`: Go's json.Marshal, stored as a blob."""
    return json.dumps(value, separators=(",", ":")).encode()


def dex_refresh_token(refresh_id: str, secret: str) -> str:
    """Dex's refresh token: base64url(protobuf RefreshToken{refresh_id = 1; token = 2})."""
    out = bytearray()
    for number, value in ((1, refresh_id), (2, secret)):
        raw = value.encode()
        out += bytes([number << 3 | 2, len(raw)]) + raw
    return b64url(bytes(out))


def decode_dex_refresh_token(token: str) -> tuple[str, str]:
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    fields, i = {}, 0
    while i < len(raw):
        number, length = raw[i] >> 3, raw[i + 1]
        fields[number] = raw[i + 2:i + 2 + length].decode()
        i += 2 + length
    return fields.get(1, ""), fields.get(2, "")


def build_dex_database(path: Path, now: datetime) -> dict:
    """A Dex SQLite database with one of each object; returns the public JWKs Dex published."""
    signing = RSAKey.generate_key(2048, parameters={"kid": "dex-current", "alg": "RS256", "use": "sig"})
    retired = RSAKey.generate_key(2048, parameters={"kid": "dex-retired", "alg": "RS256", "use": "sig"})
    db = sqlite3.connect(path)
    db.execute("create table if not exists migrations (num integer not null, at timestamp not null);")
    for number, statements in enumerate(DEX_MIGRATIONS, start=1):
        for statement in statements:
            db.execute(sqlite_flavor(statement))
        db.execute("insert into migrations (num, at) values (?, date('now'));", (number,))

    db.execute("insert into client (id, secret, redirect_uris, trusted_peers, public, name, logo_url) "
               "values (?, ?, ?, ?, ?, ?, ?);",
               (DEX_CLIENT_ID, DEX_CLIENT_SECRET, blob([REDIRECT_URI]), blob(None), 0, "Dex App", ""))
    db.execute("insert into password (email, hash, username, user_id, preferred_username, groups, name, email_verified) "
               "values (?, ?, ?, ?, ?, ?, ?, ?);",
               (USER_EMAIL, ADMIN_HASH.encode(), "carol", USER_ID, "carol", blob(["staff"]), "Carol", 1))
    created = now - timedelta(hours=2)
    db.execute("insert into refresh_token (id, client_id, scopes, nonce, claims_user_id, claims_username, "
               "claims_preferred_username, claims_email, claims_email_verified, claims_groups, connector_id, "
               "connector_data, token, obsolete_token, created_at, last_used) "
               "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);",
               (REFRESH_ID, DEX_CLIENT_ID, blob(SCOPES), "", USER_ID, "carol", "carol", USER_EMAIL, 1,
                blob(["staff"]), "local", None, REFRESH_SECRET, "", go_sqlite_time(created), go_sqlite_time(created)))
    # Dex's RefreshTokenRef has no JSON tags: Go writes its field names as they are.
    refs = {DEX_CLIENT_ID: {"ID": REFRESH_ID, "ClientID": DEX_CLIENT_ID,
                            "CreatedAt": go_json_time(created), "LastUsed": go_json_time(created)}}
    db.execute("insert into offline_session (user_id, conn_id, refresh, connector_data) values (?, ?, ?, ?);",
               (USER_ID, "local", blob(refs), None))
    verification = [{"publicKey": retired.as_dict(private=False), "expiry": go_json_time(now + timedelta(hours=20))}]
    db.execute("insert into keys (id, verification_keys, signing_key, signing_key_pub, next_rotation) "
               "values (?, ?, ?, ?, ?);",
               ("keys", blob(verification), blob(signing.as_dict(private=True)), blob(signing.as_dict(private=False)),
                go_sqlite_time(now + timedelta(hours=4))))
    expiry = go_sqlite_time(now + timedelta(minutes=20))
    db.execute("insert into auth_request (id, client_id, response_types, scopes, redirect_uri, nonce, state, "
               "force_approval_prompt, logged_in, claims_user_id, claims_username, claims_preferred_username, "
               "claims_email, claims_email_verified, claims_groups, connector_id, connector_data, expiry, "
               "code_challenge, code_challenge_method, hmac_key) "
               "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);",
               ("dexauthreq1", DEX_CLIENT_ID, blob(["code"]), blob(SCOPES), REDIRECT_URI, "n-1", "s-1", 0, 0,
                "", "", "", "", 0, blob(None), "", None, expiry, "", "", bytes(range(32))))
    db.execute("insert into auth_code (id, client_id, scopes, nonce, redirect_uri, claims_user_id, claims_username, "
               "claims_preferred_username, claims_email, claims_email_verified, claims_groups, connector_id, "
               "connector_data, expiry, code_challenge, code_challenge_method) "
               "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);",
               ("dexcode1", DEX_CLIENT_ID, blob(SCOPES), "", REDIRECT_URI, USER_ID, "carol", "carol", USER_EMAIL, 1,
                blob(["staff"]), "local", None, expiry, "", ""))
    db.execute("insert into device_request (user_code, device_code, client_id, client_secret, scopes, expiry) "
               "values (?, ?, ?, ?, ?, ?);",
               ("BCDF-GHJK", "devicecode1", DEX_CLIENT_ID, DEX_CLIENT_SECRET, blob(["openid"]), expiry))
    db.execute("insert into device_token (device_code, status, token, expiry, last_request, poll_interval, "
               "code_challenge, code_challenge_method) values (?, ?, ?, ?, ?, ?, ?, ?);",
               ("devicecode1", "pending", b"", expiry, go_sqlite_time(now), 5, "", ""))
    db.commit()
    db.close()
    return {"current": signing.as_dict(private=False), "retired": retired.as_dict(private=False)}


def test_storage_copy_reads_a_dex_sqlite_database_and_its_tokens_keep_working(fedgate, fedgate_bin: Path,
                                                                             tmp_path: Path):
    now = datetime.now(timezone.utc)
    dex_db = tmp_path / "dex.db"
    published = build_dex_database(dex_db, now)
    source = tmp_path / "dex.yaml"
    source.write_text(json.dumps({"storage": {"type": "sqlite3", "config": {"file": str(dex_db)}}}))
    target_db = tmp_path / "fedgate-copied.db"
    target_storage = {"type": "sqlite3", "config": {"file": str(target_db)}}
    target = tmp_path / "fedgate.yaml"
    target.write_text(json.dumps({"storage": target_storage}))

    copy = [str(fedgate_bin), "storage", "copy", "--from", str(source), "--to", str(target)]
    done = subprocess.run(copy, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert "reading a Dex SQL database" in done.stderr, done.stderr
    counts = dict(re.findall(r"^\s+([a-z ]+): (\d+)$", done.stdout, re.MULTILINE))
    assert counts == {
        "clients": "1", "passwords": "1", "connectors": "0", "signing key sets": "1", "refresh tokens": "1",
        "offline sessions": "1", "auth requests": "1", "auth codes": "1", "device requests": "1",
        "device tokens": "1", "login throttles": "0",
    }, done.stdout
    assert "copying refresh tokens: 1/1" in done.stderr, done.stderr

    # The Dex database was only read: its schema is untouched, the copy holds Fedgate's.
    with sqlite3.connect(dex_db) as db:
        assert [r[0] for r in db.execute("select max(num) from migrations")] == [len(DEX_MIGRATIONS)]
        assert "data" not in {r[1] for r in db.execute("pragma table_info(refresh_token)")}
    again = subprocess.run(copy, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert again.returncode == 1 and "not empty" in again.stderr, again.stderr

    server = fedgate({"storage": target_storage})
    served = {k["kid"] for k in new_session().get(server.url("/keys"), timeout=10).json()["keys"]}
    assert {"dex-current", "dex-retired"} <= served, "ID tokens Dex signed must keep verifying"
    assert all("d" not in k for k in new_session().get(server.url("/keys"), timeout=10).json()["keys"])

    # The refresh token a Dex client holds still works, and stays the same token family.
    held = dex_refresh_token(REFRESH_ID, REFRESH_SECRET)
    resp = token_request(server, {"grant_type": "refresh_token", "refresh_token": held},
                         client_id=DEX_CLIENT_ID, client_secret=DEX_CLIENT_SECRET)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    family, secret = decode_dex_refresh_token(body["refresh_token"])
    assert family == REFRESH_ID and secret != REFRESH_SECRET
    claims = verify_id_token(server, body["id_token"], audience=DEX_CLIENT_ID, subject=dex_subject(USER_ID, "local"))
    assert claims["email"] == USER_EMAIL and claims["groups"] == ["staff"]
    again = token_request(server, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
                          client_id=DEX_CLIENT_ID, client_secret=DEX_CLIENT_SECRET)
    assert again.status_code == 200, again.text

    # The copied bcrypt hash still logs the user in (password grant through the local connector).
    login = token_request(server, {"grant_type": "password", "username": USER_EMAIL, "password": ADMIN_PASSWORD,
                                   "scope": "openid email"},
                          client_id=DEX_CLIENT_ID, client_secret=DEX_CLIENT_SECRET)
    assert login.status_code == 200, login.text
    verify_id_token(server, login.json()["id_token"], audience=DEX_CLIENT_ID, subject=dex_subject(USER_ID, "local"))
