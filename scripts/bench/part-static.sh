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
        record "static_${name}_latency_server_cpu" "$(field server_cpu "$line")"
    done
    cmp -s <(curl -sf "$base/keys") "$dir/www/dex/keys" || { echo "bench: fedgate's /keys changed during the runs" >&2; return 1; }
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

