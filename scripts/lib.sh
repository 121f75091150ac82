# shellcheck shell=bash
# Shared helpers for the scripts that start test services (slapd, etcd, postgres, fedgate).
#
# Source it:   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Every helper works on loopback only and stops processes by the PID it was given, never by
# name, so two test runs on one machine cannot kill each other's services.

# Prints a TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it; bind to 0).
# There is a small race between this and the service binding it; callers that need certainty
# retry on "address in use".
free_port() {
    local py
    # The system interpreter first: a pyenv shim on PATH costs a few process starts per call.
    if [ -x /usr/bin/python3 ]; then py=/usr/bin/python3; else py="$(command -v python3 || true)"; fi
    if [ -n "$py" ]; then
        "$py" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
        return
    fi
    # No python: probe the ephemeral range with bash's /dev/tcp.
    local port
    for _ in $(seq 1 200); do
        port=$(( 20000 + RANDOM % 30000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    echo "free_port: no free port found" >&2
    return 1
}

# wait_for_http URL TIMEOUT_SECONDS
# Polls URL until it answers with any HTTP status below 500; fails after TIMEOUT_SECONDS.
wait_for_http() {
    local url="$1" timeout="${2:-30}"
    local deadline=$(( $(date +%s) + timeout ))
    local code
    while :; do
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" 2>/dev/null || true)"
        if [ -n "$code" ] && [ "$code" != "000" ] && [ "$code" -lt 500 ]; then
            return 0
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "wait_for_http: $url not ready after ${timeout}s (last status ${code:-none})" >&2
            return 1
        fi
        sleep 0.2
    done
}

# wait_for_port PORT TIMEOUT_SECONDS
# Waits until something accepts TCP connections on 127.0.0.1:PORT (for non-HTTP services).
wait_for_port() {
    local port="$1" timeout="${2:-30}"
    local deadline=$(( $(date +%s) + timeout ))
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "wait_for_port: 127.0.0.1:$port not open after ${timeout}s" >&2
            return 1
        fi
        sleep 0.2
    done
}

# is_running PID: true while the process exists.
is_running() {
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null
}

# stop_pid PID [TIMEOUT_SECONDS]
# Sends SIGTERM, waits up to TIMEOUT_SECONDS (default 10) for the process to go, then SIGKILL.
# Returns 0 once the process is gone.
stop_pid() {
    local pid="$1" timeout="${2:-10}"
    is_running "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$(( $(date +%s) + timeout ))
    while is_running "$pid"; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "stop_pid: $pid ignored SIGTERM for ${timeout}s; sending SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.2
            break
        fi
        sleep 0.1
    done
    # Reap it when it is our child, so it does not linger as a zombie.
    wait "$pid" 2>/dev/null || true
    ! is_running "$pid"
}

# stop_pidfile FILE [TIMEOUT_SECONDS]
# Stops every PID listed in FILE (one per line, as daemons write them), then removes FILE.
stop_pidfile() {
    local file="$1" timeout="${2:-10}" pid
    [ -f "$file" ] || return 0
    while read -r pid; do
        [ -n "$pid" ] && stop_pid "$pid" "$timeout"
    done <"$file"
    rm -f "$file"
}

# on_exit_stop PID...: registers an EXIT trap that stops the given PIDs (keeps earlier ones).
FEDGATE_LIB_PIDS=()
on_exit_stop() {
    FEDGATE_LIB_PIDS+=("$@")
    trap '_fedgate_lib_cleanup' EXIT
}
_fedgate_lib_cleanup() {
    local pid
    for pid in "${FEDGATE_LIB_PIDS[@]}"; do
        stop_pid "$pid" 5 || true
    done
}
