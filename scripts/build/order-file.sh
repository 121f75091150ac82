#!/usr/bin/env bash
# Regenerates scripts/build/fedgate.order: the functions of the release binary that run at start-up
# and on the request paths, in the order they first run. scripts/build/release.sh hands the file
# to lld (--symbol-ordering-file), which places those functions first and together.
#
#   scripts/build/order-file.sh            (about 15 minutes; needs valgrind, installed if missing)
#
# How: a release build without an order file (own scratch path .build-order) runs under
# valgrind's callgrind, which records every function executed: a first start on an empty
# database (key generation, migrations), idle time, then discovery, /keys, a password grant and a
# refresh grant, with RS256 and then with ES256. The names callgrind saw that are functions of
# the binary, in first-seen order, are the file. Regenerate after large changes; a stale file
# only groups less (lld ignores names it does not find).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../bench/common.sh
. "$ROOT/scripts/bench/common.sh"
OUT="$ROOT/scripts/build/fedgate.order"
SCRATCH="$ROOT/.build-order"
WORKDIR="$(mktemp -d)"
trap 'rm -rf "$WORKDIR"' EXIT

if ! command -v valgrind >/dev/null 2>&1; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends valgrind </dev/null
fi

log "release build without an order file ($SCRATCH)"
rm -f "$SCRATCH/release/fedgate"
FEDGATE_ORDER_FILE="" "$ROOT/scripts/build/release.sh" "$SCRATCH" >"$WORKDIR/build.log" 2>&1 \
    || { tail -20 "$WORKDIR/build.log" >&2; exit 1; }
# valgrind cannot read the toolchain's DWARF; the symbol table is all it needs.
cp "$SCRATCH/release/fedgate" "$WORKDIR/fedgate"
strip --strip-debug "$WORKDIR/fedgate"
nm --defined-only "$WORKDIR/fedgate" | awk '$2 ~ /^[tTwW]$/ { print $3 }' >"$WORKDIR/functions.txt"

# trace ALGORITHM: one callgrind run; its profile is $WORKDIR/ALGORITHM.cg.
trace() {
    local alg="$1" dir="$WORKDIR/$1" port pid base body refresh
    mkdir -p "$dir"
    port="$(free_port)"
    write_config "$dir/config.yaml" "$port" "$dir/fedgate.db" "$alg"
    valgrind --tool=callgrind --demangle=no --dump-instr=no --callgrind-out-file="$WORKDIR/$alg.cg" \
        "$WORKDIR/fedgate" serve "$dir/config.yaml" >"$dir/log" 2>&1 &
    pid=$!
    base="http://127.0.0.1:$port/dex"
    wait_for_http "$base/healthz" 300 || { tail -20 "$dir/log" >&2; exit 1; }
    sleep 5
    curl -sf "$base/.well-known/openid-configuration" >/dev/null
    curl -sf "$base/keys" >/dev/null
    body="$(curl -sf -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=password -d username=admin@example.com \
        -d password=password -d "scope=openid email groups offline_access" "$base/token")"
    refresh="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["refresh_token"])' "$body")"
    for _ in 1 2 3; do
        body="$(curl -sf -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=refresh_token -d "refresh_token=$refresh" "$base/token")"
        refresh="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["refresh_token"])' "$body")"
    done
    kill -INT "$pid"
    wait "$pid" || true
}

log "tracing start-up and requests under callgrind (RS256, then ES256)"
trace RS256
trace ES256

python3 - "$WORKDIR/functions.txt" "$OUT" "$WORKDIR/RS256.cg" "$WORKDIR/ES256.cg" <<'PY'
import re, sys
functions = set(open(sys.argv[1]).read().split())
seen, order = set(), []
entry = re.compile(r'^c?fn=\(\d+\) (.+)$')
for profile in sys.argv[3:]:
    for line in open(profile, errors="replace"):
        m = entry.match(line.rstrip("\n"))
        if m and m.group(1) in functions and m.group(1) not in seen:
            seen.add(m.group(1))
            order.append(m.group(1))
with open(sys.argv[2], "w") as out:
    out.write("\n".join(order) + "\n")
print(f"{len(order)} functions written to {sys.argv[2]}")
PY
