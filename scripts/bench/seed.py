#!/usr/bin/env python3
"""Seeds a Fedgate SQLite database with many users and refresh tokens for the benchmarks.

Two steps, because the JSON layout of stored objects belongs to the Swift code
(Sources/Storage/SQLiteStorage*.swift, Models.swift) and must not be guessed:

  seed.py mint   --url http://127.0.0.1:PORT/dex --client ID:SECRET --out template.txt
      With the server running: one password grant (admin@example.com / password) through the
      real binary; writes the refresh token it returned.
  seed.py insert --db FILE --template template.txt --count N --tokens-out tokens.txt
      With the server stopped: reads the template's rows (refresh_token, offline_session,
      offline_session_ref) and copies them N-1 times for N-1 new local users (password rows),
      changing only ids, secrets, times and user fields. Writes the N refresh tokens (the
      template's first) one per line, in Dex's wire format.

Every seeded token is as valid as one from a login: the local connector finds its user on
refresh, so a refresh grant does the same storage reads and writes it does in production.
Only the standard library is used.
"""

import argparse
import base64
import json
import os
import sqlite3
import sys
import time
import urllib.parse
import urllib.request
import uuid

SCOPES = "openid email profile groups offline_access"
TEMPLATE_USER = ("admin@example.com", "password")
# bcrypt of "password" (cost 10), the same hash as the static admin.
PASSWORD_HASH = "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_two_strings(first: str, second: str) -> bytes:
    """Dex's `RefreshToken { refresh_id = 1; token = 2; }` protobuf (DexEncoding.swift)."""
    out = bytearray()
    for field, value in ((1, first), (2, second)):
        raw = value.encode()
        if not raw:
            continue
        out.append((field << 3) | 2)
        n = len(raw)
        while n >= 0x80:
            out.append((n & 0x7F) | 0x80)
            n >>= 7
        out.append(n)
        out += raw
    return bytes(out)


def decode_refresh_token(token: str) -> str:
    """Returns the refresh token's id (field 1)."""
    data = b64url_decode(token)
    assert data[0] == 0x0A, "not a Dex refresh token"
    length, i, shift = 0, 1, 0
    while True:
        b = data[i]
        i += 1
        length |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
    return data[i:i + length].decode()


def new_id() -> str:
    """Dex's storage.NewID: 16 random bytes, lowercase base32 unpadded, first char a letter."""
    while True:
        value = base64.b32encode(os.urandom(16)).decode().rstrip("=").lower()
        if value[0].isalpha():
            return value


def new_secret() -> str:
    return b64url(os.urandom(32))


def dump(obj) -> str:
    # JSONEncoder with .sortedKeys and .withoutEscapingSlashes (StorageCodec.makeEncoder).
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def mint(args) -> None:
    client_id, secret = args.client.split(":", 1)
    body = urllib.parse.urlencode({
        "grant_type": "password", "username": TEMPLATE_USER[0], "password": TEMPLATE_USER[1], "scope": SCOPES,
    }).encode()
    request = urllib.request.Request(args.url.rstrip("/") + "/token", data=body, method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    request.add_header("Authorization", "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode())
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.load(response)
    token = answer.get("refresh_token")
    if not token:
        sys.exit(f"seed: the password grant returned no refresh token: {sorted(answer)}")
    with open(args.out, "w") as f:
        f.write(token + "\n")
    print(f"seed: minted template refresh token {decode_refresh_token(token)}", file=sys.stderr)


def insert(args) -> None:
    with open(args.template) as f:
        template_token = f.read().strip()
    template_id = decode_refresh_token(template_token)
    db = sqlite3.connect(args.db, timeout=30)
    db.execute("PRAGMA busy_timeout = 30000")
    row = db.execute("SELECT data FROM refresh_token WHERE id = ?", (template_id,)).fetchone()
    if row is None:
        sys.exit(f"seed: template refresh token {template_id} is not in {args.db}")
    token_template = json.loads(row[0])
    user_id = token_template["claims"]["userID"]
    connector_id = token_template["connectorID"]
    session_row = db.execute(
        "SELECT data FROM offline_session WHERE user_id = ? AND conn_id = ?", (user_id, connector_id)).fetchone()
    if session_row is None:
        sys.exit("seed: the template token has no offline session")
    session_template = json.loads(session_row[0])
    ref_template = session_template["refresh"][template_id]

    now_us = int(time.time() * 1_000_000)
    now_s = now_us / 1_000_000
    tokens = [template_token]
    passwords, refresh_rows, sessions, refs = [], [], [], []
    for i in range(1, args.count):
        email = f"bench-user-{i:06d}@example.com"
        uid = str(uuid.uuid4())
        username = f"bench-user-{i:06d}"
        passwords.append((email, dump({
            "email": email, "emailVerified": True, "groups": ["bench"], "hash": PASSWORD_HASH, "name": "",
            "preferredUsername": "", "userID": uid, "username": username,
        })))
        rid, secret = new_id(), new_secret()
        token = dict(token_template)
        token.update(id=rid, token=secret, obsoleteToken="", createdAt=now_s, lastUsed=now_s, authTime=now_s)
        token["claims"] = dict(token_template["claims"], userID=uid, username=username, email=email,
                               emailVerified=True, groups=["bench"])
        refresh_rows.append((rid, now_us, now_us, dump(token)))
        ref = dict(ref_template, id=rid, createdAt=now_s, lastUsed=now_s)
        session = dict(session_template, userID=uid, refresh={rid: ref})
        sessions.append((uid, connector_id, dump(session)))
        refs.append((rid, uid, connector_id))
        tokens.append(b64url(encode_two_strings(rid, secret)))

    with db:
        db.executemany("INSERT INTO password (email, data) VALUES (?, ?)", passwords)
        db.executemany(
            "INSERT INTO refresh_token (id, created_at_us, last_used_us, data) VALUES (?, ?, ?, ?)", refresh_rows)
        db.executemany("INSERT INTO offline_session (user_id, conn_id, data) VALUES (?, ?, ?)", sessions)
        db.executemany("INSERT INTO offline_session_ref (refresh_id, user_id, conn_id) VALUES (?, ?, ?)", refs)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    stored = db.execute("SELECT count(*) FROM refresh_token").fetchone()[0]
    db.close()
    with open(args.tokens_out, "w") as f:
        f.write("\n".join(tokens) + "\n")
    print(f"seed: {stored} refresh tokens stored in {args.db} ({os.path.getsize(args.db) // 1024} KiB)",
          file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("mint")
    m.add_argument("--url", required=True, help="issuer URL, e.g. http://127.0.0.1:5556/dex")
    m.add_argument("--client", required=True, help="client_id:client_secret")
    m.add_argument("--out", required=True)
    s = sub.add_parser("insert")
    s.add_argument("--db", required=True)
    s.add_argument("--template", required=True)
    s.add_argument("--count", type=int, required=True, help="refresh tokens stored in total")
    s.add_argument("--tokens-out", required=True)
    args = parser.parse_args()
    mint(args) if args.command == "mint" else insert(args)


if __name__ == "__main__":
    main()
