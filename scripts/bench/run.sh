#!/usr/bin/env bash
# Fedgate benchmarks (issue 3): every figure of docs/benchmarks.md, with its limit measured in
# the same run. Not part of `make test`.
#
#   scripts/bench/run.sh                 all parts: machine static refresh memory startup
#   scripts/bench/run.sh static refresh  only those parts (any order; `machine` always runs)
#
# Parts:
#   static   GET discovery and /keys, fedgate vs nginx serving the same bytes; p50/p99 at half peak
#   refresh  refresh_token grant, RS256 and ES256, SQLite; openssl speed limits; p50/p99 at half peak
#   memory   idle RSS, RSS with $TOKENS refresh tokens stored, before and after refresh load
#   startup  spawn to first 200 from /healthz: first start, restart, restart with $TOKENS tokens
#
# Knobs (environment): DURATION=10 (s per load run), RUNS=3 (best of), CONNECTIONS=64,
# TOKENS=100000, SERVER_CPU=0, LOAD_CPU=1, SKIP_BUILD=1 (reuse the release binary).
# Figures go to .build-bench/run/results.txt (key=value) and a summary at the end.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PARTS=("$@")
[ "${#PARTS[@]}" -gt 0 ] || PARTS=(static refresh memory startup)
for part in "${PARTS[@]}"; do
    case "$part" in static | refresh | memory | startup) ;; *) echo "run.sh: unknown part \"$part\"" >&2; exit 2 ;; esac
done

BASIC="$(printf '%s:%s' "$CLIENT_ID" "$CLIENT_SECRET" | base64 -w0)"

# ---------------------------------------------------------------------------------------------
part_machine() {
    log "machine"
    record date "$(date -u +%Y-%m-%dT%H:%MZ)"
    record cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -n1), $(nproc) cores"
    record kernel "$(uname -r)"
    record memory_mib "$(free -m | awk '/^Mem:/ {print $2}')"
    record swift "$(swift --version 2>&1 | head -n1 | sed 's/ (.*//')"
    record openssl "$(openssl version | cut -d' ' -f1-2)"
    record nginx "$(nginx -v 2>&1 | sed 's/.*nginx\///')"
    record wrk "$(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2)"
    record commit "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD -- Sources 2>/dev/null || echo '+local-changes')"
}

# ---------------------------------------------------------------------------------------------
# seeded_db ALG DIR: DIR/fedgate.db holds $TOKENS refresh tokens (signer ALG), DIR/tokens.txt
# lists them. Seeding is done once per algorithm into $WORK/seed-ALG and copied from there.
seeded_db() {
    local alg="$1" dir="$2" seed="$WORK/seed-$1" port
    if [ ! -f "$seed/done" ] || [ "$(cat "$seed/done")" != "$TOKENS" ]; then
        log "seeding $TOKENS refresh tokens ($alg)"
        rm -rf "$seed" && mkdir -p "$seed"
        port="$(free_port)"
        write_config "$seed/config.yaml" "$port" "$seed/fedgate.db" "$alg"
        start_fedgate "$seed/config.yaml" "$seed/fedgate.log"
        python3 "$BENCH_DIR/seed.py" mint --url "http://127.0.0.1:$port/dex" \
            --client "$CLIENT_ID:$CLIENT_SECRET" --out "$seed/template.txt"
        stop_fedgate
        python3 "$BENCH_DIR/seed.py" insert --db "$seed/fedgate.db" --template "$seed/template.txt" \
            --count "$TOKENS" --tokens-out "$seed/tokens.txt"
        echo "$TOKENS" >"$seed/done"
    fi
    rm -rf "$dir" && mkdir -p "$dir"
    cp "$seed/fedgate.db" "$seed/tokens.txt" "$dir/"
}

# ---------------------------------------------------------------------------------------------
part_static() {
    log "static endpoints: fedgate vs nginx (server on core $SERVER_CPU, wrk on core $LOAD_CPU)"
    local dir="$WORK/static" port nport name path line peak
    rm -rf "$dir" && mkdir -p "$dir/www/dex/.well-known"
    port="$(free_port)"
    write_config "$dir/config.yaml" "$port" "$dir/fedgate.db" RS256
    start_fedgate "$dir/config.yaml" "$dir/fedgate.log"
    local base="http://127.0.0.1:$port/dex"
    # nginx serves exactly the bytes fedgate sends.
    curl -sf "$base/.well-known/openid-configuration" -o "$dir/www/dex/.well-known/openid-configuration"
    curl -sf "$base/keys" -o "$dir/www/dex/keys"
    record static_discovery_bytes "$(stat -c %s "$dir/www/dex/.well-known/openid-configuration")"
    record static_keys_bytes "$(stat -c %s "$dir/www/dex/keys")"

    for name in discovery keys; do
        path=$([ "$name" = discovery ] && echo ".well-known/openid-configuration" || echo keys)
        log "fedgate GET /dex/$path ($CONNECTIONS connections, best of $RUNS x ${DURATION}s)"
        line="$(best_of "fedgate-$name" "$base/$path" "$BENCH_DIR/wrk/get.lua" -c"$CONNECTIONS")"
        record "static_${name}_fedgate_rps" "$(field rps "$line")"
        record "static_${name}_fedgate_server_cpu" "$(field server_cpu "$line")"
        record "static_${name}_fedgate_non2xx" "$(( $(field non2xx "$line") + $(field errors "$line") ))"
        # One connection, back to back: the unloaded round trip, a floor for the latencies below.
        line="$(run_wrk "fedgate-$name-single" "$base/$path" "$BENCH_DIR/wrk/get.lua" -c1)"
        record "static_${name}_single_p50_us" "$(field p50_us "$line")"
        record "static_${name}_single_p99_us" "$(field p99_us "$line")"
    done
    for name in discovery keys; do
        path=$([ "$name" = discovery ] && echo ".well-known/openid-configuration" || echo keys)
        peak="$(result "static_${name}_fedgate_rps")"
        local rate
        rate="$(awk -v p="$peak" 'BEGIN { printf "%d", p / 2 }')"
        log "fedgate GET /dex/$path paced at $rate req/s (half the peak)"
        line="$(BENCH_RATE="$rate" run_wrk "fedgate-$name-latency" "$base/$path" "$BENCH_DIR/wrk/get.lua" -c"$CONNECTIONS")"
        log "  $line"
        record "static_${name}_latency_rate" "$(field rps "$line")"
        record "static_${name}_latency_p50_us" "$(field p50_us "$line")"
        record "static_${name}_latency_p99_us" "$(field p99_us "$line")"
    done
    stop_fedgate

    nport="$(free_port)"
    start_nginx "$dir/www" "$nport"
    local nbase="http://127.0.0.1:$nport/dex"
    cmp -s <(curl -sf "$nbase/keys") "$dir/www/dex/keys" || { echo "bench: nginx does not serve the same /keys bytes" >&2; return 1; }
    for name in discovery keys; do
        path=$([ "$name" = discovery ] && echo ".well-known/openid-configuration" || echo keys)
        log "nginx GET /dex/$path ($CONNECTIONS connections, best of $RUNS x ${DURATION}s)"
        line="$(best_of "nginx-$name" "$nbase/$path" "$BENCH_DIR/wrk/get.lua" -c"$CONNECTIONS")"
        record "static_${name}_nginx_rps" "$(field rps "$line")"
        record "static_${name}_nginx_server_cpu" "$(field server_cpu "$line")"
        record "static_${name}_ratio" "$(ratio "$(result "static_${name}_fedgate_rps")" "$(field rps "$line")")"
        # Control for the latency method: nginx paced at the rate fedgate was paced at.
        line="$(BENCH_RATE="$(awk -v r="$(result "static_${name}_latency_rate")" 'BEGIN { printf "%d", r }')" \
            run_wrk "nginx-$name-latency" "$nbase/$path" "$BENCH_DIR/wrk/get.lua" -c"$CONNECTIONS")"
        log "  nginx paced: $line"
        record "static_${name}_nginx_latency_p50_us" "$(field p50_us "$line")"
        record "static_${name}_nginx_latency_p99_us" "$(field p99_us "$line")"
    done
    stop_nginx
}

# ---------------------------------------------------------------------------------------------
# check_refresh URL TOKEN ALG: one refresh grant by curl; fails unless it answers 200 with an
# ID token signed with ALG.
check_refresh() {
    local url="$1" token="$2" alg="$3" body
    body="$(curl -s -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=refresh_token -d "refresh_token=$token" "$url/token")"
    python3 - "$alg" "$body" <<'EOF'
import base64, json, sys
alg, body = sys.argv[1], json.loads(sys.argv[2])
if "id_token" not in body or "refresh_token" not in body:
    sys.exit(f"bench: refresh grant failed: {body}")
header = json.loads(base64.urlsafe_b64decode(body["id_token"].split(".")[0] + "=="))
if header.get("alg") != alg:
    sys.exit(f"bench: id_token is signed with {header.get('alg')}, expected {alg}")
EOF
}

# openssl_best ALGORITHM PATTERN: the best sign/s of $RUNS `openssl speed -seconds 3` runs on
# the server's core (the VM's speed drifts by tens of percent; best against best is fair).
openssl_best() {
    local best=0 v i
    for ((i = 0; i < RUNS; i++)); do
        wait_quiet
        v="$(taskset -c "$SERVER_CPU" openssl speed -seconds 3 "$1" 2>/dev/null | awk -v p="$2" '$0 ~ p {print $(NF-1)}')"
        log "  openssl speed $1: $v sign/s"
        best="$(awk -v a="$v" -v b="$best" 'BEGIN { print (a > b) ? a : b }')"
    done
    echo "$best"
}

openssl_limits() {
    log "openssl speed on core $SERVER_CPU (best of $RUNS x 3 s)"
    record openssl_rsa2048_sign_per_s "$(openssl_best rsa2048 '^rsa 2048 bits')"
    record openssl_ecdsap256_sign_per_s "$(openssl_best ecdsap256 'ecdsa \\(nistp256\\)')"
    # The goal: 0.8 x (signs/s on one core / 2 signatures per grant: access token + ID token).
    record refresh_RS256_goal "$(awk -v s="$(result openssl_rsa2048_sign_per_s)" 'BEGIN { printf "%.0f", 0.8 * s / 2 }')"
    record refresh_ES256_goal 5000
}

part_refresh() {
    openssl_limits
    local alg dir port base slice run line best best_rps rps lines
    for alg in RS256 ES256; do
        dir="$WORK/refresh-$alg"
        seeded_db "$alg" "$dir"
        lines="$(wc -l <"$dir/tokens.txt")"
        # RUNS peak runs + 1 paced run, each on its own slice; the last line is kept for a check.
        slice=$(( (lines - 1) / (RUNS + 1) ))
        port="$(free_port)"
        write_config "$dir/config.yaml" "$port" "$dir/fedgate.db" "$alg"
        start_fedgate "$dir/config.yaml" "$dir/fedgate.log"
        base="http://127.0.0.1:$port/dex"
        check_refresh "$base" "$(tail -n 1 "$dir/tokens.txt")" "$alg"
        log "refresh_token grant, $alg ($CONNECTIONS connections, best of $RUNS x ${DURATION}s, $slice token families per run)"
        best="" best_rps=0
        for ((run = 0; run < RUNS; run++)); do
            line="$(run_wrk "refresh-$alg-$run" "$base/token" "$BENCH_DIR/wrk/refresh.lua" -c"$CONNECTIONS" \
                -- "$dir/tokens.txt" $((run * slice)) "$slice" "$BASIC")"
            log "  run $((run + 1)): $line"
            rps="$(field rps "$line")"
            if awk -v a="$rps" -v b="$best_rps" 'BEGIN { exit !(a > b) }'; then best="$line" best_rps="$rps"; fi
        done
        record "refresh_${alg}_rps" "$(field rps "$best")"
        record "refresh_${alg}_server_cpu" "$(field server_cpu "$best")"
        record "refresh_${alg}_p50_us" "$(field p50_us "$best")"
        record "refresh_${alg}_p99_us" "$(field p99_us "$best")"
        record "refresh_${alg}_non2xx" "$(( $(field non2xx "$best") + $(field errors "$best") ))"
        record "refresh_${alg}_ratio_to_goal" "$(ratio "$(field rps "$best")" "$(result "refresh_${alg}_goal")")"
        local rate
        rate="$(awk -v p="$best_rps" 'BEGIN { printf "%d", p / 2 }')"
        log "refresh_token grant, $alg, paced at $rate grants/s (half the peak)"
        line="$(BENCH_RATE="$rate" run_wrk "refresh-$alg-latency" "$base/token" "$BENCH_DIR/wrk/refresh.lua" -c"$CONNECTIONS" \
            -- "$dir/tokens.txt" $((RUNS * slice)) "$slice" "$BASIC")"
        log "  $line"
        record "refresh_${alg}_latency_rate" "$(field rps "$line")"
        record "refresh_${alg}_latency_p50_us" "$(field p50_us "$line")"
        record "refresh_${alg}_latency_p99_us" "$(field p99_us "$line")"
        record "refresh_${alg}_latency_non2xx" "$(( $(field non2xx "$line") + $(field errors "$line") ))"
        # Diagnostic: /healthz is one `SELECT 1` under the storage lock, so its peak rate is the
        # rate of serialised SQLite round trips (a grant makes six of them).
        line="$(run_wrk "healthz-$alg" "$base/healthz" "$BENCH_DIR/wrk/get.lua" -c"$CONNECTIONS")"
        record "healthz_${alg}_rps" "$(field rps "$line")"
        record "healthz_${alg}_server_cpu" "$(field server_cpu "$line")"
        record "refresh_${alg}_stored_tokens" "$(sqlite3 "file:$dir/fedgate.db?mode=ro" 'SELECT count(*) FROM refresh_token')"
        stop_fedgate
    done
}

# ---------------------------------------------------------------------------------------------
part_memory() {
    local dir="$WORK/memory" port pid line
    log "memory: idle RSS on an empty database"
    rm -rf "$dir" && mkdir -p "$dir/empty"
    port="$(free_port)"
    write_config "$dir/empty/config.yaml" "$port" "$dir/empty/fedgate.db" RS256
    start_fedgate "$dir/empty/config.yaml" "$dir/empty/fedgate.log"
    sleep 3
    record memory_idle_rss_kib "$(rss_kb "$FEDGATE_PID")"
    # RSS counts every resident page of the shared libraries; these split it up.
    record memory_idle_pss_kib "$(smaps_field "$FEDGATE_PID" Pss)"
    record memory_idle_private_dirty_kib "$(smaps_field "$FEDGATE_PID" Private_Dirty)"
    record memory_idle_shared_clean_kib "$(smaps_field "$FEDGATE_PID" Shared_Clean)"
    smaps_top "$FEDGATE_PID" >"$dir/smaps-idle.txt"
    log "  resident by mapping (top 12; all in $dir/smaps-idle.txt):"
    head -n 12 "$dir/smaps-idle.txt" >&2
    # After serving traffic: allocator arenas and NIO buffers have grown to their working size.
    DURATION=5 run_wrk memory-warm "http://127.0.0.1:$port/dex/keys" "$BENCH_DIR/wrk/get.lua" -c"$CONNECTIONS" >/dev/null
    sleep 1
    record memory_after_static_load_rss_kib "$(rss_kb "$FEDGATE_PID")"
    stop_fedgate

    log "memory: RSS with $TOKENS refresh tokens stored"
    seeded_db RS256 "$dir/seeded"
    port="$(free_port)"
    write_config "$dir/seeded/config.yaml" "$port" "$dir/seeded/fedgate.db" RS256
    start_fedgate "$dir/seeded/config.yaml" "$dir/seeded/fedgate.log"
    sleep 3
    pid="$FEDGATE_PID"
    record memory_stored_tokens "$(sqlite3 "file:$dir/seeded/fedgate.db?mode=ro" 'SELECT count(*) FROM refresh_token')"
    record memory_db_file_kib "$(( $(stat -c %s "$dir/seeded/fedgate.db") / 1024 ))"
    record memory_seeded_idle_rss_kib "$(rss_kb "$pid")"
    # Refresh load over every stored token (one pool of all families), then the peak RSS.
    line="$(run_wrk memory-refresh "http://127.0.0.1:$port/dex/token" "$BENCH_DIR/wrk/refresh.lua" -c"$CONNECTIONS" \
        -- "$dir/seeded/tokens.txt" 0 "$TOKENS" "$BASIC")"
    log "  refresh load: $line"
    record memory_seeded_after_load_rss_kib "$(rss_kb "$pid")"
    record memory_seeded_peak_rss_kib "$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")"
    record memory_seeded_after_load_private_dirty_kib "$(smaps_field "$pid" Private_Dirty)"
    smaps_top "$pid" >"$dir/smaps-seeded-after-load.txt"
    stop_fedgate
}

# ---------------------------------------------------------------------------------------------
part_startup() {
    local dir="$WORK/startup" port line
    rm -rf "$dir" && mkdir -p "$dir/empty"
    port="$(free_port)"
    write_config "$dir/empty/config.yaml" "$port" "$dir/empty/fedgate.db" RS256
    log "start to healthy: first start (empty database, generates an RSA-2048 key), 10 runs"
    line="$(python3 "$BENCH_DIR/startup.py" --bin "$FEDGATE_BIN" --config "$dir/empty/config.yaml" \
        --url "http://127.0.0.1:$port/dex/healthz" --cpu "$SERVER_CPU" --runs 10 --fresh-db "$dir/empty/fedgate.db")"
    log "  $line"
    record startup_first_median_ms "$(field median_ms "$line")"
    record startup_first_max_ms "$(field max_ms "$line")"
    log "start to healthy: restart (database and keys exist), 10 runs"
    line="$(python3 "$BENCH_DIR/startup.py" --bin "$FEDGATE_BIN" --config "$dir/empty/config.yaml" \
        --url "http://127.0.0.1:$port/dex/healthz" --cpu "$SERVER_CPU" --runs 10)"
    log "  $line"
    record startup_restart_median_ms "$(field median_ms "$line")"
    record startup_restart_max_ms "$(field max_ms "$line")"

    seeded_db RS256 "$dir/seeded"
    port="$(free_port)"
    write_config "$dir/seeded/config.yaml" "$port" "$dir/seeded/fedgate.db" RS256
    log "start to healthy: restart with $TOKENS refresh tokens stored, 10 runs"
    line="$(python3 "$BENCH_DIR/startup.py" --bin "$FEDGATE_BIN" --config "$dir/seeded/config.yaml" \
        --url "http://127.0.0.1:$port/dex/healthz" --cpu "$SERVER_CPU" --runs 10)"
    log "  $line"
    record startup_seeded_median_ms "$(field median_ms "$line")"
    record startup_seeded_max_ms "$(field max_ms "$line")"
}

# ---------------------------------------------------------------------------------------------
summary() {
    local k
    echo
    echo "Fedgate benchmarks ($(result date); $(result cpu)); figures in $RESULTS"
    printf '%-40s %14s %14s %s\n' figure measured goal verdict
    verdict() { # name measured goal higher|lower
        [ -n "$2" ] || return 0
        local v
        v=$(awk -v m="$2" -v g="$3" -v d="$4" 'BEGIN { ok = (d == "higher") ? (m >= g) : (m <= g); print ok ? "met" : "NOT met" }')
        printf '%-40s %14s %14s %s\n' "$1" "$2" "$3" "$v"
    }
    for k in discovery keys; do
        verdict "$k: fedgate/nginx rps ratio" "$(result "static_${k}_ratio")" 0.7 higher
    done
    for k in RS256 ES256; do
        verdict "refresh $k grants/s" "$(result "refresh_${k}_rps")" "$(result "refresh_${k}_goal")" higher
    done
    local mib
    mib() { [ -n "$1" ] && awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
    verdict "idle RSS (MiB)" "$(mib "$(result memory_idle_rss_kib)")" 40 lower
    verdict "RSS, $TOKENS tokens, peak (MiB)" "$(mib "$(result memory_seeded_peak_rss_kib)")" 150 lower
    verdict "start to healthy, restart (ms)" "$(result startup_restart_median_ms)" 500 lower
    verdict "start to healthy, first start (ms)" "$(result startup_first_median_ms)" 500 lower
    verdict "start to healthy, $TOKENS tokens (ms)" "$(result startup_seeded_median_ms)" 500 lower
    for k in discovery keys; do
        [ -n "$(result "static_${k}_latency_p50_us")" ] && printf '%-40s p50 %s us, p99 %s us at %s req/s\n' "$k latency" \
            "$(result "static_${k}_latency_p50_us")" "$(result "static_${k}_latency_p99_us")" "$(result "static_${k}_latency_rate")"
    done
    for k in RS256 ES256; do
        [ -n "$(result "refresh_${k}_latency_p50_us")" ] && printf '%-40s p50 %s us, p99 %s us at %s grants/s\n' "refresh $k latency" \
            "$(result "refresh_${k}_latency_p50_us")" "$(result "refresh_${k}_latency_p99_us")" "$(result "refresh_${k}_latency_rate")"
    done
    return 0
}

# ---------------------------------------------------------------------------------------------
install_tools
build_release
mkdir -p "$WORK"
# A full run starts a fresh results file; a partial run adds to it (the newest value wins).
[ "$#" -gt 0 ] || : >"$RESULTS"
part_machine
for part in "${PARTS[@]}"; do "part_$part"; done
summary
