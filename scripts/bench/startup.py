#!/usr/bin/env python3
"""Start-to-healthy time: from spawning `fedgate serve` to the first 200 from /healthz.

  startup.py --bin FEDGATE --config CONFIG --url http://127.0.0.1:PORT/dex/healthz
             [--runs 10] [--cpu 0] [--fresh-db FILE]

The clock starts just before the process is spawned (pinned to --cpu with sched_setaffinity,
so no taskset exec is counted) and stops when /healthz answers 200, polled over one new TCP
connection every millisecond. Before each run it waits (up to --quiet-wait seconds) for the
machine to be idle. /healthz runs a storage health check, so "healthy" means
storage is open and migrated, keys are loaded (or generated) and the listener accepts. Each
run ends with SIGTERM and waits for a clean exit. --fresh-db deletes the database (and its
WAL files) before every run, to time a first start, which includes generating a signing key.

Prints one line: `BENCH min_ms=... median_ms=... max_ms=... runs=...`.
"""

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import time
import urllib.parse


def wait_healthy(url: str, process: subprocess.Popen, deadline: float) -> None:
    parts = urllib.parse.urlsplit(url)
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            sys.exit(f"startup: fedgate exited with {process.returncode} before it was healthy")
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=1)
        try:
            connection.request("GET", parts.path)
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.001)
    sys.exit("startup: fedgate was not healthy within the deadline")


def cpu_times() -> tuple[int, int]:
    """(total, idle + iowait) jiffies of all cores, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return sum(fields), fields[3] + fields[4]


def wait_quiet(limit: float) -> None:
    """Waits up to `limit` seconds until both cores are at least 90% idle over half a second,
    so a build or test run elsewhere on the machine does not end up in the figure."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        total0, idle0 = cpu_times()
        time.sleep(0.5)
        total1, idle1 = cpu_times()
        if total1 > total0 and (idle1 - idle0) / (total1 - total0) >= 0.9:
            return
    print("startup: warning: machine busy with other work; measuring anyway", file=sys.stderr)


def one_run(args) -> float:
    wait_quiet(args.quiet_wait)
    if args.fresh_db:
        for suffix in ("", "-wal", "-shm"):
            try:
                os.remove(args.fresh_db + suffix)
            except FileNotFoundError:
                pass
    cpu = args.cpu
    start = time.perf_counter()
    process = subprocess.Popen(
        [args.bin, "serve", args.config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=(lambda: os.sched_setaffinity(0, {cpu})) if cpu >= 0 else None,
    )
    try:
        wait_healthy(args.url, process, start + 30)
        elapsed = time.perf_counter() - start
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return elapsed * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--cpu", type=int, default=0, help="core to pin fedgate to; -1 for none")
    parser.add_argument("--fresh-db")
    parser.add_argument("--quiet-wait", type=float, default=60, help="seconds to wait for an idle machine per run")
    args = parser.parse_args()
    times = [one_run(args) for _ in range(args.runs)]
    print(f"BENCH min_ms={min(times):.1f} median_ms={statistics.median(times):.1f} "
          f"max_ms={max(times):.1f} runs={len(times)}")


if __name__ == "__main__":
    main()
