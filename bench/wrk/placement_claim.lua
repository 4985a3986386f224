-- PUT /allocations/{new consumer}: one claim of VCPU 1 + MEMORY_MB 64 per request, on the
-- providers of BENCH_PROVIDERS (comma-separated uuids) in turn, at microversion 1.39.
-- BENCH_TOKEN: the X-Auth-Token; the URL on wrk's command line is the Placement root.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

local token = common.env("BENCH_TOKEN")
local providers = {}
for uuid in string.gmatch(common.env("BENCH_PROVIDERS"), "[^,]+") do
   providers[#providers + 1] = uuid
end
local counter = 0
local prefix
local base = wrk.path:gsub("/$", "")

function setup(thread)
   thread:set("thread_seed", math.random(1, 65535))
end

function init(args)
   math.randomseed(os.time() + (thread_seed or 0))
   prefix = string.format("%04x%04x-%04x-4%03x", math.random(0, 65535), math.random(0, 65535),
                          math.random(0, 65535), math.random(0, 4095))
end

function request()
   counter = counter + 1
   local consumer = string.format("%s-8%03x-%012x", prefix, math.random(0, 4095), counter)
   local rp = providers[(counter + math.random(0, #providers - 1)) % #providers + 1]
   local body = '{"allocations": {"' .. rp .. '": {"resources": {"VCPU": 1, "MEMORY_MB": 64}}},'
      .. ' "project_id": "bench-project", "user_id": "bench-user",'
      .. ' "consumer_generation": null, "consumer_type": "INSTANCE"}'
   return wrk.format("PUT", base .. "/allocations/" .. consumer, {
      ["Content-Type"] = "application/json",
      ["Accept"] = "application/json",
      ["X-Auth-Token"] = token,
      ["OpenStack-API-Version"] = "placement 1.39",
   }, body)
end
