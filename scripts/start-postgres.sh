#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 on 127.0.0.1 for tests and benchmarks.
#
# Usage: scripts/start-postgres.sh STATE_DIR
#   PORT=54329        listen port (default: a free one)
#   PG_PASSWORD=...   user "postgres" authenticates with scram-sha-256 over TCP (default: trust)
#   DATABASE=fedgate  database created at start (default fedgate)
#   OWNER_PID=1234    stop the server when that process exits (a test runner that may crash);
#                     a STATE_DIR named fedgate-* is then removed too
#   MAX_CONNECTIONS   server max_connections (default 300: parallel tests each open a pool)
#
# STATE_DIR receives connection.env (PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE DATADIR), the
# log and the state the stop script needs. The data directory itself lives in its own
# mktemp dir under /tmp, because initdb runs as the unprivileged "postgres" user, which must be
# able to traverse every parent directory (pytest and mktemp dirs are 0700).
# Stop with scripts/stop-postgres.sh STATE_DIR. Prints one line: "postgres up: ...".
# After `stop-postgres.sh STATE_DIR --keep`, running this again restarts the same cluster on the
# same port with its data (an outage, not a new database).
set -euo pipefail
SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$SCRIPTS/lib.sh"

STATE=${1:?usage: $0 STATE_DIR}
BIN=/usr/lib/postgresql/15/bin
PGUSER_OS=postgres
DATABASE=${DATABASE:-fedgate}
[ -x "$BIN/initdb" ] || { echo "start-postgres: $BIN/initdb missing (apt-get install postgresql-15)" >&2; exit 1; }
id "$PGUSER_OS" >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin "$PGUSER_OS"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u "$PGUSER_OS" -- "$@"; else "$@"; fi; }

mkdir -p "$STATE"
STATE="$(cd "$STATE" && pwd)"

if [ -f "$STATE/datadir" ] && [ -f "$STATE/connection.env" ]; then
    DATA_ROOT="$(cat "$STATE/datadir")"
    PORT="$(sed -n 's/^PGPORT=//p' "$STATE/connection.env")"
    as_pg "$BIN/pg_ctl" -D "$DATA_ROOT/data" -l "$DATA_ROOT/postgres.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA_ROOT -c max_connections=${MAX_CONNECTIONS:-300} -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >"$STATE/pg_ctl.log" 2>&1 || { tail -20 "$DATA_ROOT/postgres.log" >&2; exit 1; }
    head -1 "$DATA_ROOT/data/postmaster.pid" > "$STATE/postgres.pid"
    echo "postgres up again: pid $(cat "$STATE/postgres.pid") port $PORT state $STATE"
    exit 0
fi
DATA_ROOT="$(mktemp -d /tmp/fedgate-postgres.XXXXXX)"
chmod 755 "$DATA_ROOT"
[ "$(id -u)" = 0 ] && chown "$PGUSER_OS" "$DATA_ROOT"

if [ -n "${PG_PASSWORD:-}" ]; then
    printf '%s\n' "$PG_PASSWORD" > "$DATA_ROOT/pwfile"
    [ "$(id -u)" = 0 ] && chown "$PGUSER_OS" "$DATA_ROOT/pwfile"
    AUTH=(--auth-local=trust --auth-host=scram-sha-256 --pwfile="$DATA_ROOT/pwfile")
else
    AUTH=(--auth=trust)
fi
as_pg "$BIN/initdb" -D "$DATA_ROOT/data" -U postgres "${AUTH[@]}" -E UTF8 --locale=C.UTF-8 --no-sync >"$STATE/initdb.log" 2>&1
rm -f "$DATA_ROOT/pwfile"
echo "$DATA_ROOT" > "$STATE/datadir"

# The port may be taken between free_port and the bind: retry a few times.
started=""
for _ in 1 2 3 4 5; do
    PORT_TRY=${PORT:-$(free_port)}
    if as_pg "$BIN/pg_ctl" -D "$DATA_ROOT/data" -l "$DATA_ROOT/postgres.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT_TRY -k $DATA_ROOT -c max_connections=${MAX_CONNECTIONS:-300} -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >"$STATE/pg_ctl.log" 2>&1; then
        started=$PORT_TRY
        break
    fi
    [ -n "${PORT:-}" ] && break
done
if [ -z "$started" ]; then
    echo "start-postgres: server did not start; log:" >&2
    tail -20 "$DATA_ROOT/postgres.log" >&2 || true
    exit 1
fi
PORT=$started
"$BIN/createdb" -h "$DATA_ROOT" -p "$PORT" -U postgres "$DATABASE"
head -1 "$DATA_ROOT/data/postmaster.pid" > "$STATE/postgres.pid"

cat > "$STATE/connection.env" <<ENV
PGHOST=127.0.0.1
PGPORT=$PORT
PGUSER=postgres
PGPASSWORD=${PG_PASSWORD:-}
PGDATABASE=$DATABASE
PGSOCKETDIR=$DATA_ROOT
DATADIR=$DATA_ROOT
ENV

if [ -n "${OWNER_PID:-}" ]; then
    # Stops the server once the owner is gone, unless stop-postgres.sh ran first (it removes datadir).
    nohup setsid bash -c 'while kill -0 "$1" 2>/dev/null && [ -f "$2/datadir" ]; do sleep 1; done
        [ -f "$2/datadir" ] || exit 0
        "$3/stop-postgres.sh" "$2"
        case "$(basename "$2")" in fedgate-*) rm -rf "$2" ;; esac' watchdog "$OWNER_PID" "$STATE" "$SCRIPTS" \
        >/dev/null 2>&1 </dev/null &
fi
echo "postgres up: pid $(cat "$STATE/postgres.pid") port $PORT database $DATABASE state $STATE"
