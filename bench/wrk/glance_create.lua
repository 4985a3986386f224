-- POST /v2/images: create an image record (no data), as `openstack image create` does first.
-- wrk -s bench/wrk/glance_create.lua BASE/v2/images   (BENCH_TOKEN: a project-scoped token)
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.headers["X-Auth-Token"] = common.env("BENCH_TOKEN")
wrk.body = '{"name": "bench-create", "disk_format": "raw", "container_format": "bare"}'
