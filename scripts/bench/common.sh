# shellcheck shell=bash
# Shared pieces of the benchmark scripts (sourced by scripts/bench/run.sh).
#
# Everything listens on 127.0.0.1 only, every process is started by us and stopped by its PID
# (never by name), and every load run has a fixed duration. Pinning follows issue 3: the server
# under test on core $SERVER_CPU, the load generator on core $LOAD_CPU.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/../.." && pwd)"
# shellcheck source=../lib.sh
. "$ROOT/scripts/lib.sh"

SERVER_CPU="${SERVER_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
# Load-run length in seconds; each figure is the best of $RUNS runs (less noise from the VM).
DURATION="${DURATION:-10}"
RUNS="${RUNS:-3}"
CONNECTIONS="${CONNECTIONS:-64}"
# Refresh tokens seeded into SQLite (the memory figure is specified at 100,000).
TOKENS="${TOKENS:-100000}"
# Scratch build, so the bench never fights the shared debug build in .build.
SCRATCH="${SCRATCH:-$ROOT/.build-bench}"
FEDGATE_BIN="${FEDGATE_BIN:-$SCRATCH/release/fedgate}"
WORK="${WORK:-$SCRATCH/run}"
RESULTS="${RESULTS:-$WORK/results.txt}"

CLIENT_ID="bench-app"
CLIENT_SECRET="YmVuY2gtYXBwLXNlY3JldA"

log() { printf '==> %s\n' "$*" >&2; }

# record KEY VALUE: appends one figure to $RESULTS (the last value of a key wins).
record() {
    printf '%s=%s\n' "$1" "$2" >>"$RESULTS"
    printf '    %-34s %s\n' "$1" "$2" >&2
}

# result KEY: the last recorded value of KEY (empty if none).
result() {
    [ -f "$RESULTS" ] || return 0
    grep -E "^$1=" "$RESULTS" | tail -n 1 | cut -d= -f2-
}

# Installs the load tools with apt-get when one is missing (bench is not part of `make test`).
install_tools() {
    local missing=() tool pkg
    for pair in wrk:wrk nginx:nginx-light openssl:openssl sqlite3:sqlite3 curl:curl taskset:util-linux; do
        tool="${pair%%:*}" pkg="${pair#*:}"
        command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$pkg")
    done
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    [ "${#missing[@]}" -eq 0 ] && return 0
    log "installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null \
        || { $sudo apt-get update -qq </dev/null && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null; }
}

# The release build of the CLI (scripts/build/release.sh, as `make release`), in its own scratch path.
build_release() {
    if [ "${SKIP_BUILD:-0}" = 1 ] && [ -x "$FEDGATE_BIN" ]; then return 0; fi
    log "scripts/build/release.sh $SCRATCH"
    local out="$SCRATCH/bench-build.log"
    mkdir -p "$SCRATCH"
    if ! "$ROOT/scripts/build/release.sh" "$SCRATCH" >"$out" 2>&1; then
        grep -E "error" "$out" | head -20 >&2
        echo "bench: release build failed (log: $out)" >&2
        return 1
    fi
    tail -n 1 "$out" >&2
}

# write_config FILE PORT DB ALGORITHM: the benchmark config. The local password DB is the
# connector (passwordConnector: local mints the template token); logging stays at Dex's default
# level (info), as an operator would run it.
write_config() {
    local file="$1" port="$2" db="$3" algorithm="$4"
    cat >"$file" <<EOF
issuer: http://127.0.0.1:$port/dex
storage:
  type: sqlite3
  config:
    file: $db
web:
  http: 127.0.0.1:$port
signer:
  type: local
  config:
    algorithm: $algorithm
expiry:
  refreshTokens:
    reuseInterval: 3s
staticClients:
- id: $CLIENT_ID
  secret: $CLIENT_SECRET
  name: Bench App
  redirectURIs: [http://127.0.0.1:5555/callback]
enablePasswordDB: true
oauth2:
  passwordConnector: local
staticPasswords:
- email: admin@example.com
  # bcrypt of "password"
  hash: "\$2a\$10\$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"
  username: admin
  userID: 08a8684b-db88-4b73-90a9-3cd1661f5466
  groups: [admins]
EOF
}

# start_fedgate CONFIG LOGFILE: starts the release binary pinned to $SERVER_CPU and waits for
# /healthz. Sets FEDGATE_PID.
start_fedgate() {
    local config="$1" logfile="$2" port
    port="$(sed -n 's/^  http: 127.0.0.1:\([0-9]*\)$/\1/p' "$config")"
    taskset -c "$SERVER_CPU" "$FEDGATE_BIN" serve "$config" >"$logfile" 2>&1 &
    FEDGATE_PID=$!
    SERVER_PID="$FEDGATE_PID"
    on_exit_stop "$FEDGATE_PID"
    if ! wait_for_http "http://127.0.0.1:$port/dex/healthz" 60; then
        echo "bench: fedgate did not become healthy; log:" >&2
        tail -20 "$logfile" >&2
        return 1
    fi
    # The figures assume NIO's event loops run Swift's tasks (see EventLoopExecutor.swift).
    if [ "${FEDGATE_EXECUTOR:-}" != dispatch ] && ! grep -q 'executor=event-loops' "$logfile"; then
        echo "bench: fedgate did not install its executor hook; log:" >&2
        head -5 "$logfile" >&2
        return 1
    fi
}

stop_fedgate() {
    [ -n "${FEDGATE_PID:-}" ] && stop_pid "$FEDGATE_PID" 15
    FEDGATE_PID="" SERVER_PID=""
}

# start_nginx DOCROOT PORT: one worker pinned to $SERVER_CPU, serving DOCROOT as static files
# with the same Content-Type fedgate sends. Sets NGINX_PID.
start_nginx() {
    local docroot="$1" port="$2" conf="$WORK/nginx/nginx.conf"
    mkdir -p "$WORK/nginx/tmp"
    cat >"$conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        root $docroot;
        default_type application/json;
        location / { add_header Cache-Control "public, max-age=3600"; }
    }
}
EOF
    taskset -c "$SERVER_CPU" nginx -c "$conf" -p "$WORK/nginx" -e "$WORK/nginx/error.log" &
    NGINX_PID=$!
    SERVER_PID="$NGINX_PID"
    on_exit_stop "$NGINX_PID"
    wait_for_port "$port" 10
}

stop_nginx() {
    [ -n "${NGINX_PID:-}" ] && stop_pid "$NGINX_PID" 10
    NGINX_PID="" SERVER_PID=""
}

# run_wrk NAME URL SCRIPT [wrk options...] [-- script args...]: one load run, wrk pinned to
# $LOAD_CPU with one thread. The script's done() prints one line `BENCH rps=... p50_us=...
# p99_us=... requests=... non2xx=... errors=...`, which is echoed (without "BENCH "), plus
# `server_cpu=` (share of one core the server used) when SERVER_PID is set.
# BENCH_RATE in the environment paces the run (wrk/pace.lua).
run_wrk() {
    local name="$1" url="$2" script="$3"
    shift 3
    local options=() out="$WORK/wrk-$name.txt" before after line
    while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do options+=("$1"); shift; done
    [ "$#" -gt 0 ] && shift
    wait_quiet
    before="$(cpu_ticks "${SERVER_PID:-}")"
    BENCH_DIR="$BENCH_DIR" BENCH_RATE="${BENCH_RATE:-}" taskset -c "$LOAD_CPU" \
        wrk -t1 -d"${DURATION}s" --timeout 5s -s "$script" "${options[@]}" "$url" -- "$@" >"$out" 2>&1 || {
        echo "bench: wrk failed for $name:" >&2
        cat "$out" >&2
        return 1
    }
    after="$(cpu_ticks "${SERVER_PID:-}")"
    line="$(grep '^BENCH ' "$out" | tail -n 1 | cut -d' ' -f2-)"
    [ -n "$line" ] || { echo "bench: no result from wrk for $name:" >&2; cat "$out" >&2; return 1; }
    if [ -n "${SERVER_PID:-}" ]; then
        line="$line server_cpu=$(awk -v a="$before" -v b="$after" -v hz="$(getconf CLK_TCK)" -v d="$DURATION" \
            'BEGIN { printf "%.2f", (b - a) / hz / d }')"
    fi
    printf '%s\n' "$line"
}

# cpu_ticks PID: user + system CPU time of PID (all threads) in clock ticks; 0 without a PID.
cpu_ticks() {
    if [ -z "${1:-}" ] || [ ! -r "/proc/$1/stat" ]; then echo 0; return; fi
    # Fields after the ")" that ends the command name: utime is the 12th, stime the 13th.
    sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# wait_quiet: waits (up to QUIET_WAIT seconds, default 120) until the machine is nearly idle, so
# other work (builds, tests) does not eat into a load run. Both cores must be at least 90% idle
# over one second. Proceeds anyway after the wait, with a warning and a count in the results.
wait_quiet() {
    local deadline=$(( $(date +%s) + ${QUIET_WAIT:-120} )) busy
    while :; do
        busy="$(awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $5 + $6 }' /proc/stat; sleep 1;
                awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $5 + $6 }' /proc/stat)"
        busy="$(awk 'NR == 1 { t = $1; i = $2 } NR == 2 { printf "%d", 100 * (1 - ($2 - i) / ($1 - t)) }' <<<"$busy")"
        [ "$busy" -le 10 ] && return 0
        if [ "$(date +%s)" -ge "$deadline" ]; then
            log "warning: machine still ${busy}% busy with other work; running anyway"
            printf 'busy_runs=%s\n' "$(( $(result busy_runs || echo 0) + 1 ))" >>"$RESULTS"
            return 0
        fi
        sleep 2
    done
}

# best_of NAME URL SCRIPT ARGS...: $RUNS runs, prints the fields of the run with the highest rps.
best_of() {
    local best="" best_rps=0 line rps i
    for ((i = 1; i <= RUNS; i++)); do
        line="$(run_wrk "$@")" || return 1
        rps="$(field rps "$line")"
        log "  run $i: $line"
        if awk -v a="$rps" -v b="$best_rps" 'BEGIN { exit !(a > b) }'; then best="$line" best_rps="$rps"; fi
    done
    printf '%s\n' "$best"
}

# field NAME "k=v k=v ...": one value out of a BENCH line.
field() {
    local name="$1" line="$2" kv
    for kv in $line; do
        [ "${kv%%=*}" = "$name" ] && { printf '%s\n' "${kv#*=}"; return 0; }
    done
    return 1
}

# ratio A B [DIGITS]: A / B.
ratio() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN { if (b == 0) print "n/a"; else printf "%.*f\n", d, a / b }'; }

# rss_kb PID: resident set size in KiB (what `ps -o rss` reports, shared library pages included).
rss_kb() { ps -o rss= -p "$1" | tr -d ' '; }

# smaps_field PID FIELD: one total from /proc/PID/smaps_rollup in KiB (Pss, Private_Dirty, ...).
smaps_field() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/smaps_rollup"; }

# smaps_top PID: resident KiB per mapped file (anonymous memory as [anon]), largest first.
smaps_top() {
    awk '/^[0-9a-f]+-[0-9a-f]+ / { name = (NF >= 6) ? $6 : "[anon]" }
         /^Rss:/ { rss[name] += $2 }
         END { for (n in rss) if (rss[n] > 0) printf "%8d KiB  %s\n", rss[n], n }' "/proc/$1/smaps" | sort -rn
}

# seeded_db ALG DIR: DIR/fedgate.db holds $TOKENS refresh tokens (signer ALG), DIR/tokens.txt
# lists them. Seeding is done once per algorithm into $WORK/seed-ALG and copied from there.
# seed_store ALG SEED_DIR COUNT: SEED_DIR/fedgate.db holds COUNT refresh tokens (ALG signer) and
# SEED_DIR/tokens.txt lists them. Seeded once and reused while the count matches. ON_START, if
# set, runs right after the minting server starts (the ha part re-arms its EXIT trap there).
seed_store() {
    local alg="$1" seed="$2" count="$3" port
    [ -f "$seed/done" ] && [ "$(cat "$seed/done")" = "$count" ] && return 0
    log "seeding $count refresh tokens ($alg)"
    rm -rf "$seed" && mkdir -p "$seed"
    port="$(free_port)"
    write_config "$seed/config.yaml" "$port" "$seed/fedgate.db" "$alg"
    start_fedgate "$seed/config.yaml" "$seed/fedgate.log"
    if [ -n "${ON_START:-}" ]; then "$ON_START"; fi
    python3 "$BENCH_DIR/seed.py" mint --url "http://127.0.0.1:$port/dex" \
        --client "$CLIENT_ID:$CLIENT_SECRET" --out "$seed/template.txt"
    stop_fedgate
    python3 "$BENCH_DIR/seed.py" insert --db "$seed/fedgate.db" --template "$seed/template.txt" \
        --count "$count" --tokens-out "$seed/tokens.txt"
    echo "$count" >"$seed/done"
}

# seeded_db ALG DIR: DIR gets a copy of the $TOKENS-token seed (database and tokens.txt).
seeded_db() {
    local alg="$1" dir="$2" seed="$WORK/seed-$1"
    seed_store "$alg" "$seed" "$TOKENS"
    rm -rf "$dir" && mkdir -p "$dir"
    cp "$seed/fedgate.db" "$seed/tokens.txt" "$dir/"
}
