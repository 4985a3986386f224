-- Shared by the bench/wrk/*.lua scripts (loaded with dofile from the script's own folder).
-- Inputs come from the environment so that no secret appears on wrk's command line:
--   BENCH_TOKEN     a project-scoped token (validate: X-Auth-Token and X-Subject-Token; rescope)
--   BENCH_PROJECT   the project id to scope to (rescope, password)
--   BENCH_USER_ID   the user id (password)
--   BENCH_PASSWORD  that user's password (password)
-- done() prints one line "BENCH_RESULT {json}" that bench/keystone_tokens.py reads.

local common = {}

function common.env(name)
   local value = os.getenv(name)
   if value == nil or value == "" then
      error("bench/wrk: environment variable " .. name .. " is not set")
   end
   return value
end

function common.json_string(s)
   s = s:gsub('[%c"\\]', function(c)
      if c == '"' then return '\\"' end
      if c == "\\" then return "\\\\" end
      return string.format("\\u%04x", c:byte())
   end)
   return '"' .. s .. '"'
end

function done(summary, latency, requests)
   local e = summary.errors
   local p = function(q) return latency:percentile(q) end
   io.write(string.format(
      'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
      '"latency_us": {"min": %d, "mean": %.1f, "stdev": %.1f, "max": %d, ' ..
      '"p50": %d, "p90": %d, "p99": %d}}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.min, latency.mean, latency.stdev, latency.max,
      p(50), p(90), p(99)))
end

return common
