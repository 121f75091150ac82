#!/usr/bin/env bash
# Starts a throwaway OpenLDAP (Debian's slapd 2.5) for Fedgate's LDAP tests and benchmark.
#
#   scripts/start-slapd.sh DIR            fresh directory in DIR (removed and recreated)
#   scripts/start-slapd.sh --restart DIR  start the existing DIR again (same ports, data, certs)
#
# It listens on 127.0.0.1 only, on free ports, with ldap:// (StartTLS offered) and ldaps://,
# using a CA made here with openssl (DIR/ca.pem) that signs the server certificate (SAN
# IP:127.0.0.1, DNS:localhost) and a client certificate (DIR/client.pem, DIR/client.key).
# DIR/other-ca.pem is an unrelated CA, for wrong-CA tests. The seed is Tests/ldap/seed.ldif,
# plus BIG_GROUPS posixGroups (default 1200) whose only memberUid is "pat" (password patpass).
#
# Environment:
#   LDAP_PORT, LDAPS_PORT  fixed ports instead of free ones
#   VERIFY_CLIENT          slapd's TLSVerifyClient: never (default), allow, try or demand
#   BIG_GROUPS             how many groups "pat" is in (0 for none)
#   WATCH_PID              stop slapd (SIGKILL) when this process exits: test runners pass their
#                          own PID so a crashed run leaves no slapd behind
#   WATCH_CLEANUP          with WATCH_PID, also remove DIR then (1 = yes)
#
# Prints shell assignments (also written to DIR/env): LDAP_DIR, LDAP_PORT, LDAPS_PORT,
# LDAP_PID, LDAP_ROOTDN, LDAP_ROOTPW, LDAP_BINDDN, LDAP_BINDPW.
# Stop with scripts/stop-slapd.sh DIR. Needs slapd, ldap-utils and openssl (scripts/install-deps.sh).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

RESTART=0
if [ "${1:-}" = "--restart" ]; then RESTART=1; shift; fi
DIR=${1:?usage: start-slapd.sh [--restart] DIR}
ROOTDN="cn=admin,dc=example,dc=org"
ROOTPW="adminpass"
BINDDN="cn=fedgate,ou=Services,dc=example,dc=org"
BINDPW="fedgate-service"

for tool in slapd ldapadd slappasswd openssl; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || {
        echo "start-slapd: $tool not found; run scripts/install-deps.sh" >&2; exit 1; }
done
SLAPD="$(command -v slapd || echo /usr/sbin/slapd)"
SLAPPASSWD="$(command -v slappasswd || echo /usr/sbin/slappasswd)"

make_certs() {
    # A CA, a server certificate and a client certificate it signs, and an unrelated CA.
    local d="$1"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Fedgate Test LDAP CA" \
        -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Unrelated CA" \
        -keyout "$d/other-ca.key" -out "$d/other-ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$d/server.ext"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
        -days 2 -extfile "$d/server.ext" -out "$d/server.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=fedgate-client" \
        -keyout "$d/client.key" -out "$d/client.csr" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >"$d/client.ext"
    openssl x509 -req -in "$d/client.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
        -days 2 -extfile "$d/client.ext" -out "$d/client.pem" 2>/dev/null
    chmod 600 "$d"/*.key
}

seed() {
    # Tests/ldap/seed.ldif with hashed passwords, then the big-group LDIF.
    local d="$1" count="${BIG_GROUPS:-1200}"
    cp "$ROOT/Tests/ldap/seed.ldif" "$d/seed.ldif"
    local password hash
    for password in $(grep -o '@HASH:[^@]*@' "$d/seed.ldif" | sort -u | sed 's/^@HASH:\(.*\)@$/\1/'); do
        hash="$("$SLAPPASSWD" -s "$password")"
        sed -i "s|@HASH:${password}@|${hash}|" "$d/seed.ldif"
    done
    if [ "$count" -gt 0 ]; then
        {
            printf 'dn: uid=pat,ou=People,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: pat\n'
            printf 'cn: Pat Many\nsn: Many\ndisplayName: pat.m\nmail: pat@example.org\nuserPassword: %s\n\n' \
                "$("$SLAPPASSWD" -s patpass)"
            printf 'dn: ou=Big,ou=Groups,dc=example,dc=org\nobjectClass: organizationalUnit\nou: Big\n\n'
            local i
            for ((i = 1; i <= count; i++)); do
                printf 'dn: cn=big-%04d,ou=Big,ou=Groups,dc=example,dc=org\nobjectClass: posixGroup\ncn: big-%04d\ngidNumber: %d\nmemberUid: pat\n\n' \
                    "$i" "$i" $((20000 + i))
            done
        } >"$d/big.ldif"
    fi
}

# Closes every descriptor above 2 in the current (sub)shell. Daemons started here must not keep
# descriptors of whoever ran this script: a test runner's pipe or process-monitoring socket held
# by slapd would make the runner wait until slapd exits (Foundation's Process on Linux watches
# such a socket to see the script end).
close_inherited_fds() {
    local fd
    for fd in /proc/"$BASHPID"/fd/*; do
        fd=${fd##*/}
        if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
}

start_daemon() {
    ( close_inherited_fds; exec "$SLAPD" -f "$DIR/slapd.conf" -h "ldap://127.0.0.1:$LDAP_PORT/ ldaps://127.0.0.1:$LDAPS_PORT/" )
    local i
    for i in $(seq 1 300); do
        if [ -s "$DIR/slapd.pid" ] && timeout 5 ldapsearch -o nettimeout=2 -x -H "ldap://127.0.0.1:$LDAP_PORT" -b "" -s base namingContexts >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.05
    done
    echo "start-slapd: slapd did not answer on 127.0.0.1:$LDAP_PORT" >&2
    return 1
}

if [ "$RESTART" -eq 1 ]; then
    # shellcheck source=/dev/null
    . "$DIR/env"
    start_daemon
else
    rm -rf "$DIR"
    mkdir -p "$DIR/data"
    LDAP_PORT=${LDAP_PORT:-$(free_port)}
    LDAPS_PORT=${LDAPS_PORT:-$(free_port)}
    while [ "$LDAPS_PORT" = "$LDAP_PORT" ]; do LDAPS_PORT=$(free_port); done
    make_certs "$DIR"
    cp "$ROOT/Tests/ldap/ad-lite.schema" "$DIR/ad-lite.schema"
    sed -e "s|@DIR@|$DIR|g" -e "s|@VERIFY_CLIENT@|${VERIFY_CLIENT:-never}|g" \
        "$ROOT/Tests/ldap/slapd.conf.template" >"$DIR/slapd.conf"
    seed "$DIR"
    start_daemon
    # Online loads, so the memberof overlay computes memberOf (slapadd would bypass it).
    timeout 300 ldapadd -x -c -H "ldap://127.0.0.1:$LDAP_PORT" -D "$ROOTDN" -w "$ROOTPW" -f "$DIR/seed.ldif" >"$DIR/seed.log" 2>&1 || {
        echo "start-slapd: loading seed.ldif failed:" >&2; tail -5 "$DIR/seed.log" >&2; exit 1; }
    if [ -f "$DIR/big.ldif" ]; then
        timeout 300 ldapadd -x -H "ldap://127.0.0.1:$LDAP_PORT" -D "$ROOTDN" -w "$ROOTPW" -f "$DIR/big.ldif" >>"$DIR/seed.log" 2>&1 || {
            echo "start-slapd: loading big.ldif failed:" >&2; tail -5 "$DIR/seed.log" >&2; exit 1; }
    fi
fi

LDAP_PID="$(cat "$DIR/slapd.pid")"
if [ -n "${WATCH_PID:-}" ] && ! { [ -f "$DIR/watch.pid" ] && kill -0 "$(cat "$DIR/watch.pid")" 2>/dev/null; }; then
    # Detached from our stdout, so whoever reads this script's output sees EOF now. It kills the
    # slapd of the moment (a restart writes a new pidfile) once WATCH_PID is gone.
    (
        close_inherited_fds
        while kill -0 "$WATCH_PID" 2>/dev/null; do sleep 0.5; done
        if [ -f "$DIR/slapd.pid" ]; then kill -KILL "$(cat "$DIR/slapd.pid")" 2>/dev/null || true; fi
        if [ "${WATCH_CLEANUP:-0}" = 1 ]; then sleep 0.5; rm -rf "$DIR"; fi
    ) </dev/null >/dev/null 2>&1 &
    echo $! >"$DIR/watch.pid"
fi

cat >"$DIR/env" <<ENV
LDAP_DIR=$DIR
LDAP_PORT=$LDAP_PORT
LDAPS_PORT=$LDAPS_PORT
LDAP_PID=$LDAP_PID
LDAP_ROOTDN='$ROOTDN'
LDAP_ROOTPW=$ROOTPW
LDAP_BINDDN='$BINDDN'
LDAP_BINDPW=$BINDPW
ENV
cat "$DIR/env"
