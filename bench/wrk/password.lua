-- POST /v3/auth/tokens, method password, project scope (bcrypt verification per request).
-- wrk -s bench/wrk/password.lua BASE/v3/auth/tokens
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.body = '{"auth": {"identity": {"methods": ["password"], "password": {"user": {'
   .. '"id": ' .. common.json_string(common.env("BENCH_USER_ID")) .. ', '
   .. '"password": ' .. common.json_string(common.env("BENCH_PASSWORD")) .. '}}}, '
   .. '"scope": {"project": {"id": ' .. common.json_string(common.env("BENCH_PROJECT")) .. '}}}}'
