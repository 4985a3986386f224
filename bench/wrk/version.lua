-- GET of a static version document (BASE/v3): the ceiling of the HTTP path itself.
-- wrk -s bench/wrk/version.lua BASE/v3
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

wrk.method = "GET"
wrk.headers["Accept"] = "application/json"
