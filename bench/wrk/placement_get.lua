-- GET a Placement URL (the URL on wrk's command line) at microversion 1.39.
-- BENCH_TOKEN: the X-Auth-Token (a real token for onestack, "admin" for upstream noauth2).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

wrk.method = "GET"
wrk.headers["Accept"] = "application/json"
wrk.headers["X-Auth-Token"] = common.env("BENCH_TOKEN")
wrk.headers["OpenStack-API-Version"] = "placement 1.39"
