-- GET the URL given to wrk (discovery, /keys, or nginx's copy of them), optionally paced.
local dir = os.getenv("BENCH_DIR") .. "/wrk/"
dofile(dir .. "pace.lua")
dofile(dir .. "report.lua")
