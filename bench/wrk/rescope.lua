-- POST /v3/auth/tokens, method token, scoped to the same project (a new token per request).
-- wrk -s bench/wrk/rescope.lua BASE/v3/auth/tokens
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.body = '{"auth": {"identity": {"methods": ["token"], "token": {"id": '
   .. common.json_string(common.env("BENCH_TOKEN")) .. '}}, '
   .. '"scope": {"project": {"id": ' .. common.json_string(common.env("BENCH_PROJECT")) .. '}}}}'
