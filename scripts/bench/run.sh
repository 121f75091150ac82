#!/usr/bin/env bash
# Fedgate benchmarks (issue 3): every figure of docs/benchmarks.md, with its limit measured in
# the same run. Not part of `make test`.
#
#   scripts/bench/run.sh                 all parts: machine static refresh memory startup ha
#   scripts/bench/run.sh static refresh  only those parts (any order; `machine` always runs)
#
# Parts:
#   static   GET discovery and /keys, fedgate vs nginx serving the same bytes; p50/p99 at half peak
#   refresh  refresh_token grant, RS256 and ES256, SQLite; openssl speed limits; p50/p99 at half peak
#   memory   idle RSS, RSS with $TOKENS refresh tokens stored, before and after refresh load
#   startup  spawn to first 200 from /healthz: first start, restart, restart with $TOKENS tokens
#   ha       refresh_token grant (ES256) on PostgreSQL and etcd, one replica and three sharing the
#            store, next to SQLite (issue 5; part-ha.sh)
#
# Knobs (environment): DURATION=10 (s per load run), RUNS=3 (best of), CONNECTIONS=64,
# TOKENS=100000, SERVER_CPU=0, LOAD_CPU=1, QUIET_WAIT=120 (s to wait for an idle machine),
# SKIP_BUILD=1 (reuse the release binary); part ha: HA_TOKENS=6000, HA_CONNECTIONS=48 (one
# replica), HA_REPLICAS=3, HA_CONNECTIONS_EACH=16 (per replica), HA_PLACEMENT=shared|pinned.
# Figures go to .build-bench/run/results.txt (key=value) and a summary at the end.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PARTS=("$@")
[ "${#PARTS[@]}" -gt 0 ] || PARTS=(static refresh memory startup ha)
for part in "${PARTS[@]}"; do
    case "$part" in static | refresh | memory | startup | ha) ;; *) echo "run.sh: unknown part \"$part\"" >&2; exit 2 ;; esac
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
for file in part-static.sh part-refresh.sh part-memory.sh part-ha.sh; do
    # shellcheck source=/dev/null
    . "$BENCH_DIR/$file"
done

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
    verdict "HA: postgres 1 replica / SQLite" "$(result ha_postgres_1_ratio_to_sqlite)" 0.5 higher
    for k in postgres etcd; do
        verdict "HA: $k 3 replicas / 1 replica" "$(result "ha_${k}_3_ratio")" 0.9 higher
    done
    for k in discovery keys; do
        [ -n "$(result "static_${k}_latency_p50_us")" ] && printf '%-40s p50 %s us, p99 %s us at %s req/s\n' "$k latency" \
            "$(result "static_${k}_latency_p50_us")" "$(result "static_${k}_latency_p99_us")" "$(result "static_${k}_latency_rate")"
    done
    for k in RS256 ES256; do
        [ -n "$(result "refresh_${k}_latency_p50_us")" ] && printf '%-40s p50 %s us, p99 %s us at %s grants/s\n' "refresh $k latency" \
            "$(result "refresh_${k}_latency_p50_us")" "$(result "refresh_${k}_latency_p99_us")" "$(result "refresh_${k}_latency_rate")"
    done
    for k in sqlite_1 postgres_1 postgres_3 etcd_1 etcd_3; do
        [ -n "$(result "ha_${k}_rps")" ] && printf '%-40s %s grants/s, p99 %s us, %s failed\n' "HA refresh ES256, ${k/_/, } replica(s)" \
            "$(result "ha_${k}_rps")" "$(result "ha_${k}_p99_us")" "$(result "ha_${k}_non2xx")"
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
