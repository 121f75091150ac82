#!/usr/bin/env bash
# Installs the Debian packages Fedgate needs to build and test, and only the missing ones.
#
# Runs unattended on a fresh Debian 12 machine as root (CI=true, no stdin): `apt-get update`
# happens at most once, and only when something is actually missing, so a warm machine pays
# nothing. Extra packages can be added with FEDGATE_EXTRA_DEPS="slapd ldap-utils".
set -euo pipefail

# Build: pkg-config + libssl-dev (COpenSSL), libcrypt-dev (CCrypt), libsqlite3-dev (sqlite-nio
# links the system library on Linux). Test: python3-venv for the pytest suite, curl for scripts.
# procps + gdb: the test runner lists and backtraces a hung test process.
# libldap2-dev (CLDAP) and libcurl4-openssl-dev (CCurl) for the LDAP connector and etcd storage.
# Test services, started by scripts/ on 127.0.0.1: slapd + ldap-utils, etcd, PostgreSQL 15, openssl.
PACKAGES=(pkg-config libssl-dev libcrypt-dev libsqlite3-dev libldap2-dev libcurl4-openssl-dev
          python3-venv curl ca-certificates openssl procps gdb
          slapd ldap-utils etcd-server etcd-client postgresql-15)
# shellcheck disable=SC2206 # word splitting of the extra list is intended
PACKAGES+=(${FEDGATE_EXTRA_DEPS:-})

is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-deps: all ${#PACKAGES[@]} packages present"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: missing ${missing[*]} and apt-get is not available; install them by hand" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo -n"
    else
        echo "install-deps: missing ${missing[*]}; run as root or install them by hand" >&2
        exit 1
    fi
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq </dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
