-- GET /v3/auth/tokens with X-Auth-Token = X-Subject-Token = BENCH_TOKEN (token validation).
-- wrk -s bench/wrk/validate.lua BASE/v3/auth/tokens
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

local token = common.env("BENCH_TOKEN")
wrk.method = "GET"
wrk.headers["X-Auth-Token"] = token
wrk.headers["X-Subject-Token"] = token
wrk.headers["Accept"] = "application/json"
