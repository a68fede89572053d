-- webhook.lua: wrk script posting an Alertmanager webhook payload, one container name per request.
-- Usage: wrk -s bench/webhook.lua URL -- PAYLOAD_FILE NAME1,NAME2,... [BEARER_TOKEN]
-- Every "name": "<orig>" in the payload is replaced by the next name (round robin per thread).
-- At the end one line "BENCHJSON {...}" gives requests, duration, errors and latency percentiles (us).

local bodies = {}
local next_i = 1
local headers = {["Content-Type"] = "application/json"}

function init(args)
  local f = assert(io.open(args[1], "rb"))
  local tpl = f:read("*a")
  f:close()
  for name in string.gmatch(args[2], "[^,]+") do
    local b = tpl:gsub('"name": "[^"]*"', '"name": "' .. name .. '"')
    table.insert(bodies, b)
  end
  if args[3] and args[3] ~= "" then
    headers["Authorization"] = "Bearer " .. args[3]
  end
end

function request()
  local b = bodies[next_i]
  next_i = next_i % #bodies + 1
  return wrk.format("POST", nil, headers, b)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"err_connect":%d,"err_read":%d,' ..
    '"err_write":%d,"err_status":%d,"err_timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"p999_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
