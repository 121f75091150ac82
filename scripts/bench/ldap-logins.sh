#!/usr/bin/env bash
# LDAP password logins per second through the gateway (issue 4). Not part of `make test`.
#
# A local slapd (scripts/start-slapd.sh, the test seed) and the release fedgate with the `ldap`
# connector over ldaps://, nested groupOfNames and posixGroup matchers, as in
# connector-configs/ldap.yaml. The load is `grant_type=password` with scope
# "openid email groups" (wrk + scripts/bench/ldap-logins.lua), so every request is a whole
# directory login: service bind, user search, user bind, service bind, then 5 group searches
# (direct groups, 3 levels of nesting, posixGroup), claim mapping and a signed ID token.
#
# Per signing algorithm: the peak (best of $RUNS runs of $DURATION s with $CONNECTIONS
# connections) and the latency at a constant $RATE logins/s (the issue's goal: 300/s, p99 < 50 ms).
#
# Knobs: ALGORITHMS="RS256 ES256", RATE=300, CONNECTIONS=16, DURATION=10, RUNS=3, POOL=4
# (the connector's maxConnections), SKIP_BUILD=1 (reuse .build-bench/release/fedgate),
# SERVER_CPU=0 (fedgate), LOAD_CPU=1 (wrk and slapd share the other core).
# Figures go to .build-bench/run/ldap-results.txt (key=value).
set -euo pipefail

RESULTS="${RESULTS:-${SCRATCH:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.build-bench}/run/ldap-results.txt}"
CONNECTIONS="${CONNECTIONS:-16}"
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ALGORITHMS="${ALGORITHMS:-RS256 ES256}"
RATE="${RATE:-300}"
POOL="${POOL:-4}"
SLAPD_DIR="$WORK/ldap-slapd"
USERS=(alice:alicepass bob:bobpass carol:carolpass)
BASIC="$(printf '%s:%s' "$CLIENT_ID" "$CLIENT_SECRET" | base64 -w0)"

mkdir -p "$WORK"
: >"$RESULTS"
install_tools
build_release

log "slapd (pinned to core $LOAD_CPU)"
BIG_GROUPS=0 WATCH_PID=$$ taskset -c "$LOAD_CPU" "$ROOT/scripts/start-slapd.sh" "$SLAPD_DIR" >"$WORK/ldap-slapd.env"
# shellcheck source=/dev/null
. "$SLAPD_DIR/env"
cleanup_slapd() { "$ROOT/scripts/stop-slapd.sh" --kill "$SLAPD_DIR" || true; }

part_machine_summary() {
    record date "$(date -u +%Y-%m-%dT%H:%MZ)"
    record cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -n1), $(nproc) cores"
    record slapd "$(/usr/sbin/slapd -VV 2>&1 | sed -n 's/.*slapd \([0-9.]*\).*/\1/p' | head -n1)"
    record commit "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD -- Sources 2>/dev/null || echo '+local-changes')"
}

write_ldap_config() {
    local file="$1" port="$2" algorithm="$3"
    cat >"$file" <<EOF
issuer: http://127.0.0.1:$port/dex
storage:
  type: memory
web:
  http: 127.0.0.1:$port
signer:
  type: local
  config:
    algorithm: $algorithm
oauth2:
  passwordConnector: ldap
  # Far above the load, so the brute-force throttle never answers for the directory.
  passwordPolicy: {maxFailures: 1000000, maxFailuresPerIP: 1000000}
staticClients:
- id: $CLIENT_ID
  secret: $CLIENT_SECRET
  name: Bench App
  redirectURIs: [http://127.0.0.1:5555/callback]
connectors:
- type: ldap
  id: ldap
  name: Directory
  config:
    host: 127.0.0.1:$LDAPS_PORT
    rootCA: $SLAPD_DIR/ca.pem
    bindDN: $LDAP_BINDDN
    bindPW: $LDAP_BINDPW
    maxConnections: $POOL
    userSearch: {baseDN: "ou=People,dc=example,dc=org", filter: "(objectClass=inetOrgPerson)",
                 username: uid, idAttr: uid, emailAttr: mail, nameAttr: displayName, preferredUsernameAttr: uid}
    groupSearch:
      baseDN: ou=Groups,dc=example,dc=org
      filter: "(|(objectClass=groupOfNames)(objectClass=posixGroup))"
      userMatchers:
      - {userAttr: DN, groupAttr: member, recursionGroupAttr: DN}
      - {userAttr: uid, groupAttr: memberUid}
      nameAttr: cn
  claimMapping:
    groupsPrefix: "ldap:"
EOF
}

part_machine_summary
record pool "$POOL"
record connections "$CONNECTIONS"
for algorithm in $ALGORITHMS; do
    key="$(printf '%s' "$algorithm" | tr 'A-Z' 'a-z')"
    port="$(free_port)"
    config="$WORK/ldap-$key.yaml"
    write_ldap_config "$config" "$port" "$algorithm"
    log "fedgate ($algorithm) on core $SERVER_CPU"
    start_fedgate "$config" "$WORK/ldap-fedgate-$key.log" || { cleanup_slapd; exit 1; }
    url="http://127.0.0.1:$port/dex/token"
    # One login first: it must succeed and carry groups (and it opens the first connection).
    body="$(curl -s -u "$CLIENT_ID:$CLIENT_SECRET" "$url" -d grant_type=password -d 'scope=openid email groups' \
        -d username=alice -d password=alicepass)"
    case "$body" in *id_token*) ;; *) echo "bench: a single LDAP login failed: $body" >&2; cleanup_slapd; exit 1 ;; esac

    log "peak, $RUNS x ${DURATION}s, $CONNECTIONS connections"
    best="$(best_of "ldap-$key-peak" "$url" "$BENCH_DIR/ldap-logins.lua" -c "$CONNECTIONS" -- \
        "$BASIC" "openid email groups" "${USERS[@]}")"
    record "ldap_${key}_peak_rps" "$(field rps "$best")"
    record "ldap_${key}_peak_p50_ms" "$(ratio "$(field p50_us "$best")" 1000)"
    record "ldap_${key}_peak_p99_ms" "$(ratio "$(field p99_us "$best")" 1000)"
    record "ldap_${key}_peak_failed" "$(( $(field non2xx "$best") + $(field errors "$best") ))"
    record "ldap_${key}_peak_server_cpu" "$(field server_cpu "$best")"

    log "constant $RATE logins/s, ${DURATION}s"
    paced="$(BENCH_RATE="$RATE" run_wrk "ldap-$key-paced" "$url" "$BENCH_DIR/ldap-logins.lua" -c "$CONNECTIONS" -- \
        "$BASIC" "openid email groups" "${USERS[@]}")"
    log "  $paced"
    record "ldap_${key}_at_${RATE}_rps" "$(field rps "$paced")"
    record "ldap_${key}_at_${RATE}_p50_ms" "$(ratio "$(field p50_us "$paced")" 1000)"
    record "ldap_${key}_at_${RATE}_p99_ms" "$(ratio "$(field p99_us "$paced")" 1000)"
    record "ldap_${key}_at_${RATE}_failed" "$(( $(field non2xx "$paced") + $(field errors "$paced") ))"
    stop_fedgate
done
cleanup_slapd
log "results in $RESULTS"
cat "$RESULTS"
