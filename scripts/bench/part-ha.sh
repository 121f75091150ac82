# shellcheck shell=bash
# Part "ha" (issue 5): refresh_token grants per second with the shared stores, PostgreSQL and
# etcd, on one replica and on three replicas sharing one store, next to SQLite measured in the
# same part with the same tokens and config.
# Sourced by scripts/bench/run.sh after common.sh and part-refresh.sh (check_refresh); see run.sh
# for the knobs. Its own knobs: HA_TOKENS=6000 (refresh tokens seeded), HA_CONNECTIONS=48 (one
# replica), HA_REPLICAS=3, HA_CONNECTIONS_EACH=16 (per replica with HA_REPLICAS replicas).
#
# Procedure (docs/benchmarks.md, "HA storage"):
# - Placement (HA_PLACEMENT): "shared" (default) pins nothing: the replicas, the store and wrk
#   share the machine's cores, as three replicas on this 2-core machine do. "pinned" puts every
#   fedgate replica on $SERVER_CPU and wrk and the stores on $LOAD_CPU. Either way one and three
#   replicas get the same CPU budget, which is what the goal compares.
# - HA_TOKENS users with one refresh token each are seeded into SQLite (seed.py) once; that
#   pristine store is moved into PostgreSQL and etcd with `fedgate storage copy`.
# - One replica: one wrk of HA_CONNECTIONS connections. Three replicas (three ports, the same
#   store and issuer, as behind a load balancer): one wrk of HA_CONNECTIONS_EACH connections per
#   replica, started together on disjoint tokens; rates are summed, the worst p99 is kept.
# - Each run takes a fresh slice of the tokens (refresh.lua rotates them), so no token is used in
#   two runs or by two replicas; the last token is kept for a correctness check per store.
# - PostgreSQL 15 (scripts/start-postgres.sh, scram password over TCP, fsync off) and a one-member
#   etcd (scripts/start-etcd.sh, JSON gateway over HTTP) are started only for their own runs and
#   stopped right after; an EXIT trap and the scripts' OWNER_PID watchdog stop them on failure.

HA_TOKENS="${HA_TOKENS:-6000}"
HA_CONNECTIONS="${HA_CONNECTIONS:-48}"
HA_REPLICAS="${HA_REPLICAS:-3}"
HA_CONNECTIONS_EACH="${HA_CONNECTIONS_EACH:-16}"
HA_PLACEMENT="${HA_PLACEMENT:-shared}"
HA_ALG=ES256
HA_DIR="$WORK/ha"
HA_SEED="$WORK/seed-ha-$HA_ALG"
HA_PIDS=()

# ha_cleanup: stops the replicas of this part and any store it started (idempotent; the stop
# scripts do nothing once a store is gone).
ha_cleanup() {
    local pid
    for pid in "${HA_PIDS[@]}"; do stop_pid "$pid" 15 || true; done
    HA_PIDS=()
    [ -d "$HA_DIR/postgres-state" ] && "$ROOT/scripts/stop-postgres.sh" "$HA_DIR/postgres-state" || true
    [ -d "$HA_DIR/etcd-state" ] && "$ROOT/scripts/stop-etcd.sh" "$HA_DIR/etcd-state" || true
}

# ha_trap: start_fedgate (through on_exit_stop) resets the EXIT trap to the library's; put the
# store cleanup back after it.
ha_trap() { trap '_fedgate_lib_cleanup; ha_cleanup' EXIT; }

# ha_seed: $HA_SEED/fedgate.db holds $HA_TOKENS refresh tokens (ES256 signer) and tokens.txt
# lists them; seeded once and reused while the count matches (like seeded_db, in its own
# directory so the $TOKENS seed of the other parts is left alone).
ha_seed() { ON_START=ha_trap seed_store "$HA_ALG" "$HA_SEED" "$HA_TOKENS"; }

# ha_config FILE PORT ISSUER_PORT STORAGE_FILE: the benchmark config (write_config) with the
# storage section replaced by STORAGE_FILE's lines and the issuer of the replica on ISSUER_PORT
# (all replicas of one store share one issuer, as behind a load balancer).
ha_config() {
    local file="$1" port="$2" issuer_port="$3" storage="$4"
    write_config "$file.tmp" "$port" unused.db "$HA_ALG"
    awk -v storage="$storage" -v issuer="issuer: http://127.0.0.1:$issuer_port/dex" '
        /^issuer:/ { print issuer; next }
        /^storage:/ { while ((getline line < storage) > 0) print line; skip = 1; next }
        skip && /^[^ ]/ { skip = 0 }
        !skip { print }' "$file.tmp" >"$file"
    rm -f "$file.tmp"
}

# ha_storage_copy NAME STORAGE_FILE: copies the pristine seeded SQLite store into the store
# STORAGE_FILE describes, records the time it took.
ha_storage_copy() {
    local name="$1" storage="$2" dir="$HA_DIR/$1" start end
    mkdir -p "$dir/source"
    cp "$HA_SEED/fedgate.db" "$dir/source/fedgate.db"
    printf 'storage:\n  type: sqlite3\n  config:\n    file: %s\n' "$dir/source/fedgate.db" >"$dir/source.yaml"
    cp "$storage" "$dir/target.yaml"
    log "$name: fedgate storage copy (SQLite -> $name)"
    start="$(date +%s.%N)"
    if ! taskset -c "$SERVER_CPU" "$FEDGATE_BIN" storage copy --from "$dir/source.yaml" --to "$dir/target.yaml" \
        >"$dir/copy.out" 2>"$dir/copy.log"; then
        echo "bench: fedgate storage copy into $name failed:" >&2
        tail -n 20 "$dir/copy.log" >&2
        return 1
    fi
    end="$(date +%s.%N)"
    record "ha_${name}_copy_s" "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')"
    sed 's/^/    /' "$dir/copy.out" >&2
}

# ha_start_replicas NAME COUNT STORAGE_FILE: COUNT fedgate replicas on the store, each on its own
# port (pinned to $SERVER_CPU by start_fedgate). Sets HA_PIDS and HA_URLS (issuer URLs).
ha_start_replicas() {
    local name="$1" count="$2" storage="$3" dir i ports=() first
    HA_PIDS=() HA_URLS=()
    for ((i = 0; i < count; i++)); do ports+=("$(free_port)"); done
    first="${ports[0]}"
    for ((i = 0; i < count; i++)); do
        dir="$HA_DIR/$name/replicas-$count"
        mkdir -p "$dir"
        ha_config "$dir/config-$i.yaml" "${ports[$i]}" "$first" "$storage"
        start_fedgate "$dir/config-$i.yaml" "$dir/fedgate-$i.log"
        ha_trap
        HA_PIDS+=("$FEDGATE_PID")
        HA_URLS+=("http://127.0.0.1:${ports[$i]}/dex")
    done
    FEDGATE_PID="" SERVER_PID=""
    [ "$count" -eq 1 ] && SERVER_PID="${HA_PIDS[0]}"
    return 0
}

ha_stop_replicas() {
    local pid
    for pid in "${HA_PIDS[@]}"; do stop_pid "$pid" 15; done
    HA_PIDS=() HA_URLS=() SERVER_PID=""
}

# ha_parallel NAME FIRST SLICE: one wrk per replica in HA_URLS, HA_CONNECTIONS_EACH connections
# each, replica i on tokens [FIRST + i*SLICE, +SLICE), all started together on $LOAD_CPU.
# Prints one BENCH-style line: rps summed, p50/p99 the worst replica's, counts summed,
# server_cpu the replicas' CPU together (share of one core).
ha_parallel() {
    local name="$1" first="$2" slice="$3" i pids=() outs=() before=0 after=0 pid line failed=0
    wait_quiet
    for pid in "${HA_PIDS[@]}"; do before=$((before + $(cpu_ticks "$pid"))); done
    for ((i = 0; i < ${#HA_URLS[@]}; i++)); do
        outs+=("$WORK/wrk-$name-$i.txt")
        BENCH_DIR="$BENCH_DIR" BENCH_RATE="" taskset -c "$LOAD_CPU" \
            wrk -t1 -c"$HA_CONNECTIONS_EACH" -d"${DURATION}s" --timeout 5s -s "$BENCH_DIR/wrk/refresh.lua" \
            "${HA_URLS[$i]}/token" -- "$HA_DIR/tokens.txt" $((first + i * slice)) "$slice" "$BASIC" \
            >"${outs[$i]}" 2>&1 &
        pids+=($!)
    done
    for ((i = 0; i < ${#pids[@]}; i++)); do
        wait "${pids[$i]}" || { echo "bench: wrk failed for $name replica $i:" >&2; cat "${outs[$i]}" >&2; failed=1; }
    done
    [ "$failed" -eq 0 ] || return 1
    for pid in "${HA_PIDS[@]}"; do after=$((after + $(cpu_ticks "$pid"))); done
    for ((i = 0; i < ${#outs[@]}; i++)); do
        line="$(grep '^BENCH ' "${outs[$i]}" | tail -n 1 | cut -d' ' -f2-)"
        [ -n "$line" ] || { echo "bench: no result from wrk for $name replica $i:" >&2; cat "${outs[$i]}" >&2; return 1; }
        printf '%s\n' "$line"
    done | awk -v a="$before" -v b="$after" -v hz="$(getconf CLK_TCK)" -v d="$DURATION" '
        { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
          rps += v["rps"]; requests += v["requests"]; non2xx += v["non2xx"]; errors += v["errors"]
          if (v["p50_us"] > p50) p50 = v["p50_us"]; if (v["p99_us"] > p99) p99 = v["p99_us"]
          if (v["max_us"] > max) max = v["max_us"]; n++ }
        END { printf "rps=%.1f p50_us=%d p99_us=%d max_us=%d requests=%d non2xx=%d errors=%d replicas=%d server_cpu=%.2f\n",
                     rps, p50, p99, max, requests, non2xx, errors, n, (b - a) / hz / d }'
}

# ha_measure NAME COUNT STORAGE_FILE SLOT: best of $RUNS runs with COUNT replicas; run r uses the
# token slices from SLOT + r*COUNT on. Records ha_NAME_COUNT_{rps,p50_us,p99_us,non2xx,server_cpu}.
ha_measure() {
    local name="$1" count="$2" storage="$3" slot="$4" run line rps best="" best_rps=0 label
    ha_start_replicas "$name" "$count" "$storage"
    # A token of its own for the check (the last line for one replica, the one before for more).
    check_refresh "${HA_URLS[$((count - 1))]}" "$(tail -n "$(( count == 1 ? 1 : 2 ))" "$HA_DIR/tokens.txt" | head -n 1)" "$HA_ALG"
    if [ "$count" -eq 1 ]; then label="$HA_CONNECTIONS connections"; else label="$count x $HA_CONNECTIONS_EACH connections"; fi
    log "$name, $count replica(s): refresh_token grant ($label, best of $RUNS x ${DURATION}s, $HA_SLICE tokens per wrk)"
    for ((run = 0; run < RUNS; run++)); do
        if [ "$count" -eq 1 ]; then
            line="$(run_wrk "ha-$name-1-$run" "${HA_URLS[0]}/token" "$BENCH_DIR/wrk/refresh.lua" -c"$HA_CONNECTIONS" \
                -- "$HA_DIR/tokens.txt" $(((slot + run) * HA_SLICE)) "$HA_SLICE" "$BASIC")"
        else
            line="$(ha_parallel "ha-$name-$count-$run" $(((slot + run * count) * HA_SLICE)) "$HA_SLICE")"
        fi
        log "  run $((run + 1)): $line"
        rps="$(field rps "$line")"
        if awk -v a="$rps" -v b="$best_rps" 'BEGIN { exit !(a > b) }'; then best="$line" best_rps="$rps"; fi
    done
    ha_stop_replicas
    record "ha_${name}_${count}_rps" "$(field rps "$best")"
    record "ha_${name}_${count}_p50_us" "$(field p50_us "$best")"
    record "ha_${name}_${count}_p99_us" "$(field p99_us "$best")"
    record "ha_${name}_${count}_non2xx" "$(( $(field non2xx "$best") + $(field errors "$best") ))"
    record "ha_${name}_${count}_server_cpu" "$(field server_cpu "$best")"
}

part_ha() {
    local storage lines slots password
    # Dynamic scoping: every function this part calls sees these placements.
    local SERVER_CPU="$SERVER_CPU" LOAD_CPU="$LOAD_CPU"
    case "$HA_PLACEMENT" in
        shared) SERVER_CPU="0-$(( $(nproc) - 1 ))" LOAD_CPU="$SERVER_CPU" ;;
        pinned) ;;
        *) echo "bench: HA_PLACEMENT must be shared or pinned, not $HA_PLACEMENT" >&2; return 1 ;;
    esac
    record ha_placement "$HA_PLACEMENT"
    ha_trap
    ha_cleanup
    rm -rf "$HA_DIR" && mkdir -p "$HA_DIR"
    ha_seed
    cp "$HA_SEED/tokens.txt" "$HA_DIR/tokens.txt"
    # Token slices: $RUNS one-replica runs plus $RUNS runs of $HA_REPLICAS replicas per store (the
    # stores are separate copies, so each starts from the same pristine tokens); the last two
    # lines are kept for check_refresh.
    lines="$(wc -l <"$HA_DIR/tokens.txt")"
    slots=$((RUNS * (1 + HA_REPLICAS)))
    HA_SLICE=$(((lines - 2) / slots))
    if [ "$HA_SLICE" -lt $((2 * HA_CONNECTIONS)) ]; then
        echo "bench: HA_TOKENS=$HA_TOKENS gives $HA_SLICE tokens per run, fewer than 2 x $HA_CONNECTIONS connections" >&2
        return 1
    fi
    record ha_tokens "$lines"
    record ha_algorithm "$HA_ALG"

    # SQLite: the reference figure, one replica (SQLite is not shared between processes).
    mkdir -p "$HA_DIR/sqlite"
    cp "$HA_SEED/fedgate.db" "$HA_DIR/sqlite/fedgate.db"
    printf 'storage:\n  type: sqlite3\n  config:\n    file: %s\n' "$HA_DIR/sqlite/fedgate.db" >"$HA_DIR/sqlite/storage.yaml"
    ha_measure sqlite 1 "$HA_DIR/sqlite/storage.yaml" 0

    # PostgreSQL 15 on $LOAD_CPU, password (scram) auth over TCP, 8 connections per replica.
    log "postgres: starting PostgreSQL 15 on core $LOAD_CPU"
    password="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
    OWNER_PID=$$ PG_PASSWORD="$password" taskset -c "$LOAD_CPU" "$ROOT/scripts/start-postgres.sh" "$HA_DIR/postgres-state" >&2
    record ha_postgres_version "$(/usr/lib/postgresql/15/bin/postgres --version | awk '{print $3}')"
    storage="$HA_DIR/postgres/storage.yaml"
    mkdir -p "$HA_DIR/postgres"
    # shellcheck disable=SC1091
    (
        . "$HA_DIR/postgres-state/connection.env"
        cat <<EOF
storage:
  type: postgres
  config:
    host: $PGHOST
    port: $PGPORT
    database: $PGDATABASE
    user: $PGUSER
    password: $password
    ssl:
      mode: disable
    maxOpenConns: 8
EOF
    ) >"$storage"
    chmod 600 "$storage"
    ha_storage_copy postgres "$storage"
    ha_measure postgres 1 "$storage" 0
    ha_measure postgres "$HA_REPLICAS" "$storage" "$RUNS"
    "$ROOT/scripts/stop-postgres.sh" "$HA_DIR/postgres-state"

    # etcd, one member on $LOAD_CPU, through its JSON gateway over HTTP.
    log "etcd: starting one etcd member on core $LOAD_CPU"
    NODES=1 OWNER_PID=$$ taskset -c "$LOAD_CPU" "$ROOT/scripts/start-etcd.sh" "$HA_DIR/etcd-state" >&2
    record ha_etcd_version "$(etcd --version | awk '/^etcd Version/ {print $NF}')"
    storage="$HA_DIR/etcd/storage.yaml"
    mkdir -p "$HA_DIR/etcd"
    printf 'storage:\n  type: etcd\n  config:\n    endpoints:\n' >"$storage"
    tr ',' '\n' <<<"$(sed -n 's/^ENDPOINTS=//p' "$HA_DIR/etcd-state/connection.env")" | sed 's/^/    - /' >>"$storage"
    ha_storage_copy etcd "$storage"
    ha_measure etcd 1 "$storage" 0
    ha_measure etcd "$HA_REPLICAS" "$storage" "$RUNS"
    "$ROOT/scripts/stop-etcd.sh" "$HA_DIR/etcd-state"

    local store sqlite_rps
    sqlite_rps="$(result ha_sqlite_1_rps)"
    for store in postgres etcd; do
        record "ha_${store}_1_ratio_to_sqlite" "$(ratio "$(result "ha_${store}_1_rps")" "$sqlite_rps")"
        record "ha_${store}_${HA_REPLICAS}_ratio" "$(ratio "$(result "ha_${store}_${HA_REPLICAS}_rps")" "$(result "ha_${store}_1_rps")")"
    done
    ha_cleanup
}
