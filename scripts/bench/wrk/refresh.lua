-- POST /token grant_type=refresh_token, as many clients each holding one refresh token would.
--
-- Usage: wrk -tN -s refresh.lua URL -- TOKENS_FILE FIRST COUNT BASIC_CREDENTIALS [N]
--   TOKENS_FILE  one refresh token per line (scripts/bench/seed.py writes it)
--   FIRST COUNT  the slice of lines this run uses (every run takes fresh tokens)
--   BASIC_CREDENTIALS  base64 of "client_id:client_secret" (RFC 6749 §2.3.1)
--   N            wrk's thread count (default 1); each thread takes every N-th token of the slice
--
-- Rotation stays on (Dex's default): every answer carries a new refresh token and retires the
-- one sent. The tokens form a pool: request() takes the oldest available token, response()
-- puts the new one from the answer back at the end. A token is therefore never in flight
-- twice and never sent after it was rotated out, exactly like a well-behaved client, and the
-- run can last as long as wanted. A failed answer loses its token (the count shows in non2xx).
local dir = os.getenv("BENCH_DIR") .. "/wrk/"
dofile(dir .. "pace.lua")
dofile(dir .. "report.lua")

local pool, head, tail = {}, 1, 0
local threads = 0

function setup(thread)
    thread:set("thread_index", threads)
    threads = threads + 1
end

function init(args)
    local file, first, count = args[1], tonumber(args[2]), tonumber(args[3])
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
    wrk.headers["Authorization"] = "Basic " .. args[4]
    local index, stride, me = 0, tonumber(args[5] or "1"), thread_index or 0
    for line in io.lines(file) do
        if index >= first + count then break end
        if index >= first and (index - first) % stride == me and #line > 0 then
            tail = tail + 1
            pool[tail] = line
        end
        index = index + 1
    end
    if tail < 1 then error("no refresh tokens in " .. file .. " from line " .. first) end
end

function request()
    if head > tail then
        -- Every token is in flight (more connections than tokens); should not happen with the
        -- slice sizes run.sh uses. Send an empty grant, which fails visibly as a 400.
        return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=")
    end
    local token = pool[head]
    pool[head] = nil
    head = head + 1
    return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. token)
end

local failures_shown = 0

function response(status, headers, body)
    if status ~= 200 and failures_shown < 5 then
        -- The first few failed answers go to wrk's output (run_wrk keeps it), to say why.
        failures_shown = failures_shown + 1
        io.stderr:write("failed grant: HTTP " .. status .. " " .. body .. "\n")
    end
    if status == 200 then
        local token = string.match(body, '"refresh_token":"([^"]+)"')
        if token then
            tail = tail + 1
            pool[tail] = token
        end
    end
end
