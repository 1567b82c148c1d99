-- Loopin's workload for wrk: random seeded users, one endpoint or the 60/25/10/5 mix.
--
--   wrk -t1 -c32 -d20s -s bench/wrk/workload.lua http://127.0.0.1:8000 -- DATA MODE
--
-- DATA: the file bench/workload.py writes, one user a line, fields separated by "|":
--   token | family id | local today | recent days (,) | habit ids (,) | id=value habits (,)
-- MODE: today | checkin | board | stats | mixed
-- BENCH_THINK_MS (environment): mean think time between a connection's requests
-- (exponential), to offer a fixed fraction of the peak load instead of a closed loop.
-- done() prints one line "BENCH_RESULT {json}" that bench/run.py reads.

local users, mode = {}, "today"
local think_ms = tonumber(os.getenv("BENCH_THINK_MS") or "0")
local threads_started = 0

local function split(text, separator)
  local fields = {}
  for field in string.gmatch(text, "([^" .. separator .. "]*)") do
    if field ~= "" then fields[#fields + 1] = field end
  end
  return fields
end

local function load_users(path)
  for line in io.lines(path) do
    local f = split(line, "|")
    local writable = {}
    for _, entry in ipairs(split(f[6], ",")) do
      local id, value = entry:match("([^=]+)=(.*)")
      local body = value == "" and '{"status":"done"}'
        or '{"status":"done","value":' .. value .. '}'
      writable[#writable + 1] = { id, body }
    end
    users[#users + 1] = {
      headers = { Authorization = "Bearer " .. f[1], ["Content-Type"] = "application/json" },
      family = f[2], today = f[3], recent = split(f[4], ","), habits = split(f[5], ","),
      writable = writable,
    }
  end
end

local function pick(list) return list[math.random(#list)] end

local requests = {
  today = function(user)
    return wrk.format("GET", "/v1/me/today", user.headers)
  end,
  checkin = function(user)
    local habit = pick(user.writable)
    local day = math.random() < 0.5 and user.today or pick(user.recent)
    return wrk.format("PUT", "/v1/habits/" .. habit[1] .. "/checkins/" .. day, user.headers,
      habit[2])
  end,
  board = function(user)
    return wrk.format("GET", "/v1/families/" .. user.family .. "/board", user.headers)
  end,
  stats = function(user)
    return wrk.format("GET", "/v1/habits/" .. pick(user.habits) .. "/stats", user.headers)
  end,
}

function setup(thread)
  threads_started = threads_started + 1
  thread:set("thread_id", threads_started)  -- a global of that thread's Lua state
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_id or 0))
  load_users(args[1])
  mode = args[2] or "today"
  assert(mode == "mixed" or requests[mode], "unknown mode " .. mode)
end

function request()
  local name = mode
  if mode == "mixed" then
    local roll = math.random(100)
    name = roll <= 60 and "today" or roll <= 85 and "checkin" or roll <= 95 and "board"
      or "stats"
  end
  return requests[name](pick(users))
end

if think_ms > 0 then
  function delay()  -- capped below uvicorn's 5 s keep-alive
    return math.min(4000, math.floor(-think_ms * math.log(1 - math.random())))
  end
end

function done(summary, latency, _)
  local percentiles = {}
  for _, p in ipairs({ 50, 90, 95, 99, 99.9 }) do
    percentiles[#percentiles + 1] = string.format('"p%s":%d', p, latency:percentile(p))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"max":%d,%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, table.concat(percentiles, ",")))
end
