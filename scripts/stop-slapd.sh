#!/usr/bin/env bash
# Stops the slapd that scripts/start-slapd.sh started in DIR, by the PID in DIR/slapd.pid (never
# by name), and its watcher. Keeps DIR, so `start-slapd.sh --restart DIR` can bring it back.
#
#   scripts/stop-slapd.sh DIR          SIGTERM, then SIGKILL after 10 s (a clean shutdown)
#   scripts/stop-slapd.sh --kill DIR   SIGKILL at once (throwaway data; back_mdb survives it)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

KILL=0
if [ "${1:-}" = "--kill" ]; then KILL=1; shift; fi
DIR=${1:?usage: stop-slapd.sh [--kill] DIR}

# Alive and not a zombie: a killed daemon stays a zombie until its parent (init, or a container's
# PID 1, which may reap only every second or so) collects it, but it holds no sockets any more.
alive() {
    is_running "$1" || return 1
    local state
    state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || echo Z)"
    [ "$state" != "Z" ]
}

# stop SIGNAL PID TIMEOUT_SECONDS: sends SIGNAL and waits until the process is gone.
stop() {
    local signal="$1" pid="$2" timeout="$3" i
    alive "$pid" || return 0
    kill "-$signal" "$pid" 2>/dev/null || true
    for ((i = 0; i < timeout * 50; i++)); do
        alive "$pid" || return 0
        sleep 0.02
    done
    return 1
}

if [ -f "$DIR/watch.pid" ]; then
    stop KILL "$(cat "$DIR/watch.pid")" 2 || true
    rm -f "$DIR/watch.pid"
fi
if [ -f "$DIR/slapd.pid" ]; then
    pid="$(cat "$DIR/slapd.pid")"
    if [ "$KILL" -eq 1 ]; then
        stop KILL "$pid" 5
    elif ! stop TERM "$pid" 10; then
        echo "stop-slapd: slapd $pid ignored SIGTERM for 10 s; sending SIGKILL" >&2
        stop KILL "$pid" 5
    fi
    rm -f "$DIR/slapd.pid"
fi
