-- Constant-rate pacing for wrk (wrk2, which does this natively, is not packaged in Debian).
--
-- Loaded with dofile() by get.lua and refresh.lua. When BENCH_RATE (requests per second for the
-- whole run; wrk runs with one thread) is set, this defines wrk's delay() hook, which wrk calls
-- before each request on a connection. Requests are given slots on a fixed schedule
-- (start + k / rate); each call claims the next slot and waits until it, so the offered load is
-- constant and independent of response times as long as enough connections are idle (at half the
-- peak rate they almost always are). wrk measures latency from the moment a request is written,
-- after the delay, so the pacing never counts as latency. wrk's timers have 1 ms resolution: a
-- request may start up to 1 ms early, but the rate over the run stays exact.
local rate = tonumber(os.getenv("BENCH_RATE") or "")
if rate and rate > 0 then
    local ffi = require("ffi")
    ffi.cdef [[
        typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
        int clock_gettime(int clock_id, bench_timespec *tp);
    ]]
    local ts = ffi.new("bench_timespec")
    local CLOCK_MONOTONIC = 1
    local function now_ms()
        ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
        return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
    end
    local interval = 1000 / rate
    local next_slot = nil

    function delay()
        local now = now_ms()
        if next_slot == nil then next_slot = now end
        local slot = next_slot
        next_slot = next_slot + interval
        local wait = slot - now
        if wait <= 0 then return 0 end
        return math.floor(wait)
    end
end
