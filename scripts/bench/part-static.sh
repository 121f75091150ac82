# shellcheck shell=bash
# Part "static": discovery and /keys, fedgate against nginx serving the same bytes, and latency
# at half the peak rate.
# Sourced by scripts/bench/run.sh after common.sh; see run.sh for the knobs.

part_static() {
    log "static endpoints: fedgate vs nginx (server on core $SERVER_CPU, wrk on core $LOAD_CPU)"
    local dir="$WORK/static" port nport name path line peak
    rm -rf "$dir" && mkdir -p "$dir/www/dex/.well-known"
    port="$(free_port)"
    write_config "$dir/config.yaml" "$port" "$dir/fedgate.db" RS256
    start_fedgate "$dir/config.yaml" "$dir/fedgate.log"
    local base="http://127.0.0.1:$port/dex"
    # A first start publishes the next signing key just after it is ready: wait for both keys, so
    # the /keys document fedgate serves during the runs is the one nginx gets.
    local i
    for i in $(seq 1 100); do
        [ "$(curl -sf "$base/keys" | grep -o '"kid"' | wc -l)" -ge 2 ] && break
        sleep 0.1
    done
    # nginx serves exactly the bytes fedgate sends.
    curl -sf "$base/.well-known/openid-configuration" -o "$dir/www/dex/.well-known/openid-configuration"
    curl -sf "$base/keys" -o "$dir/www/dex/keys"
    record static_discovery_bytes "$(stat -c %s "$dir/www/dex/.well-known/openid-configuration")"
    record static_keys_bytes "$(stat -c %s "$dir/www/dex/keys")"

    # nginx runs beside fedgate (both on the server core; the idle one costs nothing), and the
    # peak runs alternate fedgate, nginx, fedgate, ... The VM's speed drifts by tens of percent
    # within minutes, so runs of one server after the other's would compare different machines.
    local fedgate_pid="$FEDGATE_PID" nport nbase run fline nline fbest nbest fbest_rps nbest_rps ratios
    nport="$(free_port)"
    start_nginx "$dir/www" "$nport"
    nbase="http://127.0.0.1:$nport/dex"
    cmp -s <(curl -sf "$nbase/keys") "$dir/www/dex/keys" || { echo "bench: nginx does not serve the same /keys bytes" >&2; return 1; }
    for name in discovery keys; do
        path=$([ "$name" = discovery ] && echo ".well-known/openid-configuration" || echo keys)
        log "GET /dex/$path, fedgate and nginx alternating ($CONNECTIONS connections, $RUNS x ${DURATION}s each)"
        fbest="" nbest="" fbest_rps=0 nbest_rps=0 ratios=""
        for ((run = 1; run <= RUNS; run++)); do
            SERVER_PID="$fedgate_pid"
            fline="$(run_wrk "fedgate-$name" "$base/$path" "$BENCH_DIR/wrk/get.lua" -c"$CONNECTIONS")"
            SERVER_PID="$NGINX_PID"
            nline="$(run_wrk "nginx-$name" "$nbase/$path" "$BENCH_DIR/wrk/get.lua" -c"$CONNECTIONS")"
            log "  run $run: fedgate $fline"
            log "  run $run: nginx   $nline"
            ratios="$ratios $(ratio "$(field rps "$fline")" "$(field rps "$nline")" 3)"
            if awk -v a="$(field rps "$fline")" -v b="$fbest_rps" 'BEGIN { exit !(a > b) }'; then fbest="$fline" fbest_rps="$(field rps "$fline")"; fi
            if awk -v a="$(field rps "$nline")" -v b="$nbest_rps" 'BEGIN { exit !(a > b) }'; then nbest="$nline" nbest_rps="$(field rps "$nline")"; fi
        done
        record "static_${name}_fedgate_rps" "$fbest_rps"
        record "static_${name}_fedgate_server_cpu" "$(field server_cpu "$fbest")"
        record "static_${name}_fedgate_non2xx" "$(( $(field non2xx "$fbest") + $(field errors "$fbest") ))"
        record "static_${name}_nginx_rps" "$nbest_rps"
        record "static_${name}_nginx_server_cpu" "$(field server_cpu "$nbest")"
        # The goal's ratio: best against best; the per-pair ratios show the spread.
        record "static_${name}_ratio" "$(ratio "$fbest_rps" "$nbest_rps")"
        record "static_${name}_pair_ratios" "$(echo $ratios | tr ' ' ',')"
        # One connection, back to back: the unloaded round trip, a floor for the latencies below.
        SERVER_PID="$fedgate_pid"
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
        SERVER_PID="$fedgate_pid"
        line="$(BENCH_RATE="$rate" run_wrk "fedgate-$name-latency" "$base/$path" "$BENCH_DIR/wrk/get.lua" -c"$CONNECTIONS")"
        log "  $line"
        record "static_${name}_latency_rate" "$(field rps "$line")"
        record "static_${name}_latency_p50_us" "$(field p50_us "$line")"
        record "static_${name}_latency_p99_us" "$(field p99_us "$line")"
        record "static_${name}_latency_server_cpu" "$(field server_cpu "$line")"
        # Control for the latency method: nginx paced at the rate fedgate was paced at.
        SERVER_PID="$NGINX_PID"
        line="$(BENCH_RATE="$(awk -v r="$(result "static_${name}_latency_rate")" 'BEGIN { printf "%d", r }')" \
            run_wrk "nginx-$name-latency" "$nbase/$path" "$BENCH_DIR/wrk/get.lua" -c"$CONNECTIONS")"
        log "  nginx paced: $line"
        record "static_${name}_nginx_latency_p50_us" "$(field p50_us "$line")"
        record "static_${name}_nginx_latency_p99_us" "$(field p99_us "$line")"
    done
    cmp -s <(curl -sf "$base/keys") "$dir/www/dex/keys" || { echo "bench: fedgate's /keys changed during the runs" >&2; return 1; }
    SERVER_PID="$fedgate_pid"
    stop_fedgate
    stop_nginx
}

