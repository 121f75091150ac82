#!/usr/bin/env bash
# Starts a throwaway etcd (Debian's etcd-server 3.4) on 127.0.0.1 for tests and benchmarks.
#
# Usage: scripts/start-etcd.sh STATE_DIR
#   NODES=3             a cluster of that many members (default 1), each its own process
#   TLS=1               client URLs speak https with a certificate for DNS:etcd.test only (not the
#                       IP, so clients must use ssl.serverName) and require client certificates;
#                       CA, server and client files are written to STATE_DIR/tls/
#   AUTH_USER/AUTH_PASSWORD  enable etcd auth with that user (granted the root role)
#   OWNER_PID=1234      stop the cluster when that process exits (a test runner that may crash);
#                       a STATE_DIR named fedgate-* is then removed too
#
# STATE_DIR receives connection.env (ENDPOINTS=comma list, and TLS file paths), per-member
# pid files, logs and data. After `scripts/stop-etcd.sh STATE_DIR --keep`, running this again
# restarts the same members with their data (an outage, not a new cluster).
# Prints one line: "etcd up: ...".
set -euo pipefail
SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$SCRIPTS/lib.sh"

STATE=${1:?usage: $0 STATE_DIR}
command -v etcd >/dev/null || { echo "start-etcd: etcd missing (apt-get install etcd-server etcd-client)" >&2; exit 1; }
mkdir -p "$STATE"
STATE="$(cd "$STATE" && pwd)"
export ETCDCTL_API=3

wait_healthy() {
    local endpoints="$1" i
    local tlsargs=()
    if [ -f "$STATE/tls/ca.pem" ]; then
        tlsargs=(--cacert "$STATE/tls/ca.pem" --cert "$STATE/tls/client.pem" --key "$STATE/tls/client.key" --insecure-skip-tls-verify)
    fi
    # Bounded by the clock, not by a count: one probe of an etcd that is not there yet may wait
    # its dial timeout, and a member that exited (a port taken meanwhile) ends the wait at once,
    # so the caller retries with other ports.
    local deadline=$((SECONDS + 40)) pidfile
    while [ "$SECONDS" -lt "$deadline" ]; do
        etcdctl "${tlsargs[@]}" --dial-timeout 1s --command-timeout 2s --endpoints "$endpoints" endpoint health >/dev/null 2>&1 && return 0
        for pidfile in "$STATE"/n*.pid; do
            kill -0 "$(cat "$pidfile")" 2>/dev/null || { echo "start-etcd: $(basename "$pidfile" .pid) exited; logs:" >&2; tail -5 "$STATE"/n*.log >&2 || true; return 1; }
        done
        sleep 0.05
    done
    echo "start-etcd: cluster not healthy; logs:" >&2
    tail -5 "$STATE"/n*.log >&2 || true
    return 1
}

if [ -f "$STATE/connection.env" ]; then
    # Restart after --keep: same members, same data, same ports.
    for cmd in "$STATE"/n*.cmd; do
        name="$(basename "$cmd" .cmd)"
        bash "$cmd" >>"$STATE/$name.log" 2>&1 &
        echo $! > "$STATE/$name.pid"
    done
    endpoints="$(sed -n 's/^ENDPOINTS=//p' "$STATE/connection.env")"
    wait_healthy "$endpoints"
    echo "etcd up again: endpoints=$endpoints"
    exit 0
fi

NODES=${NODES:-1}
SCHEME=http
TLSFLAGS=""
if [ "${TLS:-0}" = 1 ]; then
    SCHEME=https
    T="$STATE/tls"
    mkdir -p "$T"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ca.key" -out "$T/ca.pem" -days 2 -subj "/CN=Fedgate test CA" 2>/dev/null
    for who in server client; do
        if [ "$who" = server ]; then ext="subjectAltName=DNS:etcd.test\nextendedKeyUsage=serverAuth,clientAuth"; cn=etcd.test
        else ext="extendedKeyUsage=clientAuth"; cn=fedgate; fi
        openssl req -newkey rsa:2048 -nodes -keyout "$T/$who.key" -out "$T/$who.csr" -subj "/CN=$cn" 2>/dev/null
        printf "$ext\n" > "$T/$who.ext"
        openssl x509 -req -in "$T/$who.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -out "$T/$who.pem" \
            -days 2 -extfile "$T/$who.ext" 2>/dev/null
    done
    TLSFLAGS="--cert-file $T/server.pem --key-file $T/server.key --client-cert-auth --trusted-ca-file $T/ca.pem"
fi

# Ports: one client and one peer port per member (retried as a whole if one was taken).
for attempt in 1 2 3; do
    cluster=""; endpoints=""; clients=(); peers=()
    for i in $(seq 0 $((NODES-1))); do
        clients[$i]=$(free_port); peers[$i]=$(free_port)
        cluster+="${cluster:+,}n$i=http://127.0.0.1:${peers[$i]}"
        endpoints+="${endpoints:+,}$SCHEME://127.0.0.1:${clients[$i]}"
    done
    token="fedgate-$$-$attempt"
    for i in $(seq 0 $((NODES-1))); do
        cat > "$STATE/n$i.cmd" <<CMD
exec etcd --name n$i --data-dir "$STATE/n$i.etcd" \
  --listen-client-urls $SCHEME://127.0.0.1:${clients[$i]} --advertise-client-urls $SCHEME://127.0.0.1:${clients[$i]} \
  --listen-peer-urls http://127.0.0.1:${peers[$i]} --initial-advertise-peer-urls http://127.0.0.1:${peers[$i]} \
  --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token $token \
  --listen-metrics-urls "" --logger zap --log-level warn $TLSFLAGS
CMD
        bash "$STATE/n$i.cmd" >"$STATE/n$i.log" 2>&1 &
        echo $! > "$STATE/n$i.pid"
    done
    if wait_healthy "$endpoints"; then break; fi
    for pidfile in "$STATE"/n*.pid; do stop_pidfile "$pidfile" 5; done
    rm -rf "$STATE"/n*.etcd
    [ "$attempt" = 3 ] && exit 1
done

if [ -n "${AUTH_USER:-}" ]; then
    tlsargs=()
    [ "$SCHEME" = https ] && tlsargs=(--cacert "$STATE/tls/ca.pem" --cert "$STATE/tls/client.pem" --key "$STATE/tls/client.key" --insecure-skip-tls-verify)
    ctl() { etcdctl "${tlsargs[@]}" --endpoints "$endpoints" "$@" >/dev/null; }
    ROOTPW="root-$RANDOM$RANDOM"
    ctl user add "root:$ROOTPW"
    ctl user grant-role root root
    ctl user add "$AUTH_USER:${AUTH_PASSWORD:?AUTH_PASSWORD required with AUTH_USER}"
    ctl user grant-role "$AUTH_USER" root
    ctl auth enable
fi

{
    echo "ENDPOINTS=$endpoints"
    if [ "$SCHEME" = https ]; then
        echo "CA_FILE=$STATE/tls/ca.pem"
        echo "CERT_FILE=$STATE/tls/client.pem"
        echo "KEY_FILE=$STATE/tls/client.key"
        echo "SERVER_NAME=etcd.test"
    fi
} > "$STATE/connection.env"

if [ -n "${OWNER_PID:-}" ]; then
    nohup setsid bash -c 'while kill -0 "$1" 2>/dev/null && [ -f "$2/connection.env" ]; do sleep 1; done
        [ -f "$2/connection.env" ] || exit 0
        "$3/stop-etcd.sh" "$2"
        case "$(basename "$2")" in fedgate-*) rm -rf "$2" ;; esac' watchdog "$OWNER_PID" "$STATE" "$SCRIPTS" \
        >/dev/null 2>&1 </dev/null &
fi
echo "etcd up: endpoints=$endpoints pids=$(cat "$STATE"/n*.pid | tr '\n' ' ')"
