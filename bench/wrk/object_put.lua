-- 4 KiB object PUTs with unique names: BENCH_URL (a container URL path) and BENCH_TOKEN.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")
local token = common.env("BENCH_TOKEN")
local path = common.env("BENCH_PATH")
local body = string.rep("x", 4096)
local counter = 0
local salt = 0

function init(args)
   math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
   salt = math.random(1e9)
end

function request()
   counter = counter + 1
   local name = string.format("%s/put-%d-%d", path, salt, counter)
   return wrk.format("PUT", name, {["X-Auth-Token"] = token,
                                   ["Content-Type"] = "application/octet-stream"}, body)
end
