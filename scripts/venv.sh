#!/usr/bin/env bash
# Creates (or reuses) .venv with the end-to-end suite's Python packages.
#
# pip is the slow part of `make test`, so the venv is reused as long as
# Tests/e2e/requirements.txt is byte-identical to the copy recorded in the stamp file after the
# last successful install. Delete .venv (or run `make clean`) to force a rebuild.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
REQUIREMENTS="$ROOT/Tests/e2e/requirements.txt"
STAMP="$VENV/.requirements.stamp"

if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && cmp -s "$REQUIREMENTS" "$STAMP" \
    && "$VENV/bin/python" -c "import sys" 2>/dev/null; then
    echo "venv: $VENV is up to date"
    exit 0
fi

# Prefer the python3 on PATH; fall back to Debian's when that one has no working venv module.
make_venv() {
    local python="$1"
    rm -rf "$VENV"
    "$python" -m venv "$VENV" >/dev/null 2>&1 && [ -x "$VENV/bin/python" ]
}

if ! make_venv "${PYTHON:-python3}"; then
    if [ -x /usr/bin/python3 ] && make_venv /usr/bin/python3; then
        :
    else
        echo "venv: could not create $VENV (is python3-venv installed?)" >&2
        exit 1
    fi
fi

echo "venv: installing $(grep -cvE '^\s*(#|$)' "$REQUIREMENTS") packages into $VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    -r "$REQUIREMENTS" </dev/null
cp "$REQUIREMENTS" "$STAMP"
