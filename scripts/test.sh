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

# Runs `swift test` with a deadline (UNIT_TEST_TIMEOUT seconds, default 1500). Its verbose log goes
# to .build/swift-test.log; the terminal gets the usual lines (without the per-test "started" ones).
# Past the deadline it prints the tests that started and never finished and every thread's
# backtrace of the test process, then kills the run: a hang fails in minutes, and says where.
descendants() {
    local child
    for child in $(pgrep -P "$1" 2>/dev/null); do
        echo "$child"
        descendants "$child"
    done
}

run_unit_tests() {
    local log="$ROOT/.build/swift-test.log" limit="${UNIT_TEST_TIMEOUT:-1500}"
    : >"$log"
    setsid "$SWIFT" test --skip-build --verbose >"$log" 2>&1 </dev/null &
    local pid=$! started
    started=$(date +%s)
    tail -n +1 -F --pid="$pid" "$log" 2>/dev/null \
        | grep --line-buffered -v -E '^◇ Test .* started\.$|^Test (Suite|Case) ' &
    local tail_pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        if [ $(( $(date +%s) - started )) -ge "$limit" ]; then
            echo "test: swift test still running after ${limit}s; tests started and not finished:" >&2
            python3 - "$log" >&2 <<'PY' || true
import re, sys
started, finished = [], set()
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    m = re.match(r"^◇ Test (.*) started\.$", line.rstrip("\n"))
    if m:
        started.append(m.group(1))
    m = re.match(r"^[✔✘] Test (.*?) (passed|failed) after", line)
    if m:
        finished.add(m.group(1))
for name in started:
    if name not in finished and name != "run":
        print("  " + name)
PY
            local tree runner
            tree="$pid $(descendants "$pid")"
            for runner in $tree; do
                case "$(cat "/proc/$runner/cmdline" 2>/dev/null | tr '\0' ' ')" in
                    *.xctest*)
                        echo "test: backtraces of $runner:" >&2
                        timeout 120 gdb -q -batch -p "$runner" -ex "thread apply all bt 12" 2>&1 \
                            | grep -E '^(Thread|#)' | head -600 >&2 || true ;;
                esac
            done
            echo "test: process tree:" >&2
            # shellcheck disable=SC2086 # one PID per word
            ps -o pid,ppid,etimes,args -p "$(echo $tree | tr ' ' ',')" >&2 || true
            # shellcheck disable=SC2086
            kill -KILL $tree 2>/dev/null || true
            break
        fi
        sleep 5
    done
    wait "$pid"
    local status=$?
    wait "$tail_pid" 2>/dev/null || true
    return "$status"
}

echo "==> swift test"
run_unit_tests
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
