#!/usr/bin/env bash
# The whole test run behind `make test` and CI: Swift unit tests, then the end-to-end suite
# against the real binary.
#
# Both suites always run once the build succeeds, so one failure does not hide the other; the
# exit status is non-zero if either failed. pytest runs last, so its summary line
# ("N passed in Xs") is the last line printed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SWIFT="${SWIFT:-swift}"

echo "==> swift build --build-tests"
if ! "$SWIFT" build --build-tests; then
    echo "test: swift build failed" >&2
    exit 1
fi

echo "==> swift test"
"$SWIFT" test --skip-build
unit_status=$?

echo "==> e2e environment"
if ! scripts/venv.sh; then
    echo "test: could not prepare .venv for the e2e suite" >&2
    exit 1
fi

export FEDGATE_BIN="${FEDGATE_BIN:-$ROOT/.build/debug/fedgate}"

if [ "$unit_status" -ne 0 ]; then
    echo "test: swift test FAILED (exit $unit_status); running the e2e suite anyway" >&2
fi
echo "==> pytest Tests/e2e (FEDGATE_BIN=$FEDGATE_BIN)"
.venv/bin/python -m pytest Tests/e2e -q
e2e_status=$?

if [ "$unit_status" -ne 0 ]; then
    exit "$unit_status"
fi
exit "$e2e_status"
