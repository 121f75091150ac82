# shellcheck shell=bash
# Part "refresh": the refresh_token grant with RS256 and ES256 over SQLite, the `openssl speed`
# limits it is measured against, and latency at half the peak.
# Sourced by scripts/bench/run.sh after common.sh; see run.sh for the knobs.

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
        record "refresh_${alg}_latency_server_cpu" "$(field server_cpu "$line")"
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

