-- wrk script of compose/load (compose/wrk/trip.lua): one kind of request of the trip user mix per wrk process.
--
-- compose/load starts one wrk per kind (a kind talks to one service, and wrk talks to one host)
-- and gives it, through the environment:
--   LOAD_KIND         nearby | place | reviews | post-review | bookmark
--   LOAD_RATE         requests per second of this process (0: as fast as the service answers)
--   LOAD_CONNECTIONS  the connections wrk opens (-c), to spread the rate over them
--   LOAD_PLACES       file of "id lat lon" lines: places sampled from the place service
--   LOAD_TOKENS       file of session tokens, one a line (the users compose/load signed up)
--   LOAD_RADIUS_KM    radius of the nearby searches (default 5)
--   LOAD_LIMIT        places asked of each nearby search (default 20)
--   LOAD_OUT          where done() writes this process's figures (JSON)
--   LOAD_IDS          where done() writes the id of every review answered 201 (post-review)
-- Requests are spaced by an exponential delay (Poisson arrivals) whose mean keeps each
-- connection at LOAD_RATE / LOAD_CONNECTIONS requests per second.

local kind = os.getenv("LOAD_KIND") or "nearby"
local rate = tonumber(os.getenv("LOAD_RATE") or "0") or 0
local conns = tonumber(os.getenv("LOAD_CONNECTIONS") or "1") or 1
local radius = os.getenv("LOAD_RADIUS_KM") or "5"
local limit = os.getenv("LOAD_LIMIT") or "20"

local function read_lines(path)
  local out = {}
  if not path then return out end
  local f = io.open(path, "r")
  if not f then return out end
  for line in f:lines() do
    if line ~= "" then out[#out + 1] = line end
  end
  f:close()
  return out
end

local places = {}
for _, line in ipairs(read_lines(os.getenv("LOAD_PLACES"))) do
  local id, lat, lon = line:match("^(%d+)%s+(%S+)%s+(%S+)")
  if id then places[#places + 1] = { id = id, lat = tonumber(lat), lon = tonumber(lon) } end
end
local tokens = read_lines(os.getenv("LOAD_TOKENS"))

-- Per thread (each wrk thread has its own Lua state): status counts, per-second counts of 2xx,
-- 4xx and 5xx answers, and the ids of the reviews acknowledged with 201. Flat tables only:
-- thread:get copies nested tables wrongly.
codes = {}
ok_at, c4xx_at, c5xx_at = {}, {}, {}
created = {}

local threads = {}
function setup(thread)
  thread:set("thread_no", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_no or 0) * 7919)
  if #places == 0 then
    io.stderr:write("trip.lua: no places in LOAD_PLACES\n")
    os.exit(2)
  end
  if (kind == "post-review" or kind == "bookmark") and #tokens == 0 then
    io.stderr:write("trip.lua: no session tokens in LOAD_TOKENS\n")
    os.exit(2)
  end
end

local mean_delay_ms = 0
if rate > 0 then mean_delay_ms = conns * 1000 / rate end

-- Defined only with a rate: wrk then schedules each request through a timer.
if mean_delay_ms > 0 then
  function delay()
    return math.floor(-math.log(1 - math.random()) * mean_delay_ms)
  end
end

local function pick_place() return places[math.random(#places)] end

local function auth()
  return { ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)],
           ["Content-Type"] = "application/json" }
end

local texts = { "Lovely spot, would come again.", "Too crowded at noon.", "Great view from the top.",
                "Friendly staff and fair prices.", "Worth the detour.", "Closed early, check the hours." }

local builders = {
  nearby = function()
    local p = pick_place()
    -- Around a real place, up to about 2 km off, so searches land where the places are.
    local lat = p.lat + (math.random() - 0.5) * 0.04
    local lon = p.lon + (math.random() - 0.5) * 0.04
    return wrk.format("GET", string.format("/nearby?lat=%.5f&lon=%.5f&radius_km=%s&limit=%s", lat, lon, radius, limit))
  end,
  place = function()
    return wrk.format("GET", "/places/" .. pick_place().id)
  end,
  reviews = function()
    local p = pick_place()
    if math.random() < 0.5 then return wrk.format("GET", "/places/" .. p.id .. "/rating") end
    return wrk.format("GET", "/places/" .. p.id .. "/reviews?limit=10")
  end,
  ["post-review"] = function()
    local body = string.format('{"stars":%d,"text":"%s"}', math.random(5), texts[math.random(#texts)])
    return wrk.format("POST", "/places/" .. pick_place().id .. "/reviews", auth(), body)
  end,
  bookmark = function()
    if math.random() < 0.25 then return wrk.format("GET", "/bookmarks?limit=20", auth()) end
    return wrk.format("PUT", "/bookmarks/" .. pick_place().id, auth())
  end,
}
local build = builders[kind]
if not build then
  io.stderr:write("trip.lua: unknown LOAD_KIND " .. kind .. "\n")
  os.exit(2)
end

function request() return build() end

function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
  local now = os.time()
  local class = math.floor(status / 100)
  local t = (class == 2 and ok_at) or (class == 4 and c4xx_at) or (class == 5 and c5xx_at)
  if t then t[now] = (t[now] or 0) + 1 end
  if kind == "post-review" and status == 201 then
    local id = body and body:match('"id"%s*:%s*(%d+)')
    created[#created + 1] = id or "?"
  end
end

function done(summary, latency, requests)
  local all_codes, all_seconds, ids = {}, {}, {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("codes") or {}) do all_codes[code] = (all_codes[code] or 0) + n end
    for i, name in ipairs({ "ok_at", "c4xx_at", "c5xx_at" }) do
      for sec, n in pairs(t:get(name) or {}) do
        local a = all_seconds[sec] or { 0, 0, 0 }
        a[i] = a[i] + n
        all_seconds[sec] = a
      end
    end
    for _, id in ipairs(t:get("created") or {}) do ids[#ids + 1] = id end
  end
  local parts = {}
  for code, n in pairs(all_codes) do parts[#parts + 1] = string.format('"%d":%d', code, n) end
  local secs = {}
  for sec, c in pairs(all_seconds) do secs[#secs + 1] = string.format("[%d,%d,%d,%d]", sec, c[1], c[2], c[3]) end
  table.sort(secs)
  local e = summary.errors
  local json = string.format(
    '{"kind":"%s","rate":%g,"requests":%d,"duration_s":%.3f,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},"codes":{%s},' ..
    '"latency_ms":{"mean":%.3f,"p50":%.3f,"p90":%.3f,"p95":%.3f,"p99":%.3f,"max":%.3f},' ..
    '"created":%d,"seconds":[%s]}\n',
    kind, rate, summary.requests, summary.duration / 1e6, summary.bytes,
    e.connect, e.read, e.write, e.timeout, e.status, table.concat(parts, ","),
    latency.mean / 1000, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    #ids, table.concat(secs, ","))
  local out = os.getenv("LOAD_OUT")
  if out then
    local f = assert(io.open(out, "w"))
    f:write(json)
    f:close()
  else
    io.write(json)
  end
  local idfile = os.getenv("LOAD_IDS")
  if idfile and kind == "post-review" then
    local f = assert(io.open(idfile, "w"))
    for _, id in ipairs(ids) do f:write(id, "\n") end
    f:close()
  end
end
