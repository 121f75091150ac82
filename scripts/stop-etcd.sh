#!/usr/bin/env bash
# Stops the members started by scripts/start-etcd.sh STATE_DIR and removes their data.
# Usage: scripts/stop-etcd.sh STATE_DIR [--keep | nN]   (idempotent)
#   --keep  stop every member but keep data and config: start-etcd.sh STATE_DIR restarts them.
#   nN      stop only member N (e.g. n1), keeping its data, to test failover.
set -uo pipefail
SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$SCRIPTS/lib.sh"
STATE=${1:?usage: $0 STATE_DIR [--keep | nN]}
WHAT=${2:-}
[ -d "$STATE" ] || exit 0
# SIGKILL throughout: a graceful stop makes the leader transfer leadership first (seconds), and
# a crash is what an outage test wants anyway; etcd's WAL keeps acknowledged writes.
kill_member() {
    local pidfile="$1" pid
    [ -f "$pidfile" ] || return 0
    while read -r pid; do
        [ -n "$pid" ] || continue
        kill -KILL "$pid" 2>/dev/null || true
        # Gone, or a zombie waiting for its reaper (it no longer holds its ports or files).
        for _ in $(seq 1 100); do
            is_running "$pid" || break
            [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = Z ] && break
            sleep 0.05
        done
    done <"$pidfile"
    rm -f "$pidfile"
}
case "$WHAT" in
    n[0-9]*) kill_member "$STATE/$WHAT.pid"; exit 0 ;;
esac
for pidfile in "$STATE"/n*.pid; do kill_member "$pidfile"; done
if [ "$WHAT" != "--keep" ]; then
    rm -rf "$STATE"/n*.etcd "$STATE/connection.env"
fi
