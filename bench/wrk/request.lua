-- One request shape for a whole run: method and body from BENCH_METHOD / BENCH_BODY, fixed headers from -H, and,
-- when BENCH_BEARERS lists several access tokens (comma-separated), each request signed in by the next of them.
-- Prints a machine-readable summary line at the end.
local method = os.getenv("BENCH_METHOD")
local body = os.getenv("BENCH_BODY")
if method and method ~= "" then wrk.method = method end
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

local bearers = {}
for token in string.gmatch(os.getenv("BENCH_BEARERS") or "", "[^,]+") do
  bearers[#bearers + 1] = "Bearer " .. token
end
if #bearers > 0 then
  local next_bearer = 0
  setup = function(thread)
    -- threads start at different users
    thread:set("offset", next_bearer)
    next_bearer = next_bearer + 1
  end
  local n = 0
  request = function()
    n = n + 1
    wrk.headers["Authorization"] = bearers[((n + (offset or 0)) % #bearers) + 1]
    return wrk.format()
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
