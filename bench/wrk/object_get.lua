-- GETs round robin over BENCH_COUNT objects named obj-<n> in the container BENCH_PATH.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")
local token = common.env("BENCH_TOKEN")
local path = common.env("BENCH_PATH")
local count = tonumber(common.env("BENCH_COUNT"))
local counter = 0

function request()
   counter = counter + 1
   return wrk.format("GET", string.format("%s/obj-%d", path, counter % count),
                     {["X-Auth-Token"] = token})
end
