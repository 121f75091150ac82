# shellcheck shell=bash
# Parts "memory" (RSS idle and with many stored refresh tokens) and "startup" (spawn to
# healthy).
# Sourced by scripts/bench/run.sh after common.sh; see run.sh for the knobs.

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
    # For comparison: generating the key alone (`openssl genpkey`, its process start included).
    local i t0 times=()
    for ((i = 0; i < 10; i++)); do
        t0="$(date +%s%N)"
        taskset -c "$SERVER_CPU" openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out /dev/null 2>/dev/null
        times+=("$(( ($(date +%s%N) - t0) / 1000000 ))")
    done
    record openssl_rsa2048_keygen_median_ms "$(printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1 } END { print (v[5] + v[6]) / 2 }')"
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

