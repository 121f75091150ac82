-- wrk's done() hook, shared by every benchmark script: one machine-readable line.
--   rps      successful (non-error) responses per second
--   p50_us   median latency, p99_us 99th percentile, max_us, mean_us (microseconds)
--   non2xx   responses with status >= 400 (wrk's "status errors"); errors = socket errors + timeouts
function done(summary, latency, requests)
    local seconds = summary.duration / 1e6
    local e = summary.errors
    local socket_errors = e.connect + e.read + e.write + e.timeout
    local ok = summary.requests - e.status
    io.write(string.format(
        "BENCH rps=%.1f p50_us=%d p99_us=%d mean_us=%.0f max_us=%d requests=%d non2xx=%d errors=%d seconds=%.2f\n",
        ok / seconds, latency:percentile(50), latency:percentile(99), latency.mean, latency.max,
        summary.requests, e.status, socket_errors, seconds))
end
