-- wrk script: POST one realistic predict body (built by tools/load/run.sh, path in $PREDICT_BODY) and, when done,
-- print one JSON line with throughput, latency percentiles and errors, so run.sh and bench/summarize.py need no
-- parsing of wrk's human-readable report.
local path = os.getenv("PREDICT_BODY") or error("set PREDICT_BODY to the request body file")
local file = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"

-- Count non-200 answers per thread (wrk's summary only counts non-2xx/3xx). A global, not a local: done() reads it
-- from each thread's Lua state with thread:get, which sees globals only (a local read back as nil, so every answer
-- counted as a 200 until 2026-11-28).
non200 = 0
function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
  end
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local total_non200 = 0
  for _, t in ipairs(threads) do
    total_non200 = total_non200 + (t:get("non200") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    '{"stage": "http", "connections": %s, "requests": %d, "seconds": %.3f, "req_per_s": %.1f, ' ..
    '"p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, "non_200": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d}}\n',
    os.getenv("CONNECTIONS") or "null", summary.requests, summary.duration / 1e6,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    total_non200, e.connect, e.read, e.write, e.timeout, e.status))
end
