#!/usr/bin/env bash
# Stops a server started by scripts/start-postgres.sh STATE_DIR and removes its data directory.
# Usage: scripts/stop-postgres.sh STATE_DIR [--keep]   (idempotent)
#   --keep  only stop the server (an outage): start-postgres.sh STATE_DIR brings it back.
set -uo pipefail
STATE=${1:?usage: $0 STATE_DIR [--keep]}
KEEP=${2:-}
BIN=/usr/lib/postgresql/15/bin
[ -f "$STATE/datadir" ] || exit 0
DATA_ROOT="$(cat "$STATE/datadir")"
pg_stop() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$BIN/pg_ctl" -D "$DATA_ROOT/data" stop -m fast -w -t 20 >/dev/null 2>&1 || true
    else
        "$BIN/pg_ctl" -D "$DATA_ROOT/data" stop -m fast -w -t 20 >/dev/null 2>&1 || true
    fi
}
if [ "$KEEP" = "--keep" ]; then
    pg_stop
    rm -f "$STATE/postgres.pid"
    exit 0
fi
rm -f "$STATE/datadir"
case "$DATA_ROOT" in /tmp/fedgate-postgres.*) ;; *) echo "stop-postgres: refusing to remove $DATA_ROOT" >&2; exit 1 ;; esac
[ -f "$DATA_ROOT/data/postmaster.pid" ] && pg_stop
rm -rf "$DATA_ROOT"
rm -f "$STATE/postgres.pid"
