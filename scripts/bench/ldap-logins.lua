-- POST /token grant_type=password against the ldap connector (oauth2.passwordConnector: ldap):
-- each request is one full directory login (service bind, user search, user bind, service bind,
-- group searches) plus token signing.
--
-- Usage: wrk -t1 -s ldap-logins.lua URL -- BASIC_CREDENTIALS SCOPE USER:PASSWORD...
--   BASIC_CREDENTIALS  base64 of "client_id:client_secret" (RFC 6749 §2.3.1)
--   SCOPE              e.g. "openid email groups" (with groups, the group searches run)
--   USER:PASSWORD      directory accounts, used in turn
local dir = os.getenv("BENCH_DIR") .. "/wrk/"
dofile(dir .. "pace.lua")
dofile(dir .. "report.lua")

local bodies, next_body = {}, 1

local function encode(value)
    return (value:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
    wrk.headers["Authorization"] = "Basic " .. args[1]
    local scope = encode(args[2])
    for i = 3, #args do
        local user, password = args[i]:match("^([^:]+):(.*)$")
        bodies[#bodies + 1] = "grant_type=password&scope=" .. scope ..
            "&username=" .. encode(user) .. "&password=" .. encode(password)
    end
    if #bodies == 0 then error("ldap-logins.lua: no USER:PASSWORD given") end
end

function request()
    local body = bodies[next_body]
    next_body = next_body % #bodies + 1
    return wrk.format(nil, nil, nil, body)
end
