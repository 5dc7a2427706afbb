-- wrk script for `make load` (tests/load/load.py writes the config and reads the result).
-- Each request is one storefront checkout by a random buyer (its own CUSTOMER token),
-- with an Idempotency-Key no other request of any run shares: run id, thread, counter.
-- Lua's math.random starts the same sequence in every thread, so each thread seeds it
-- with its own number.

local cfg = dofile(os.getenv("LOAD_CONFIG"))

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
  table.insert(threads, thread)
end

local counter = 0
statuses = {}

function init(args)
  math.randomseed(cfg.seed + tid * 104729)
  for _ = 1, 10 do math.random() end
end

local function line(id, qty)
  return '{"product_id":"' .. id .. '","quantity":' .. qty .. '}'
end

function request()
  counter = counter + 1
  local token = cfg.tokens[math.random(#cfg.tokens)]
  local items
  if math.random() < cfg.hot_share then
    items = line(cfg.hot, 1)
  else
    -- one to three distinct products of the mixed catalog
    local n = math.random(3)
    local first = math.random(#cfg.mixed)
    local parts = {}
    for i = 0, n - 1 do
      local id = cfg.mixed[((first + i * 7) % #cfg.mixed) + 1]
      parts[#parts + 1] = line(id, math.random(cfg.max_quantity))
    end
    items = table.concat(parts, ",")
  end
  local headers = {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = cfg.run .. "-" .. tid .. "-" .. counter,
  }
  return wrk.format("POST", "/api/v1/sales/orders", headers, '{"items":[' .. items .. ']}')
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

-- A millisecond clock (wrk's Lua is LuaJIT: clock_gettime through its FFI).
local ffi = require("ffi")
ffi.cdef([[
  typedef struct { long tv_sec; long tv_nsec; } oms_timespec;
  int clock_gettime(int clk_id, oms_timespec *tp);
]])
local ts = ffi.new("oms_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

-- Paces this thread's connections to its share of LOAD_RATE: each request takes the next
-- send slot (a connection still waiting on an answer just takes a later one), so the
-- offered rate does not fall when answers slow down, as long as enough connections are
-- free. Nothing is sent after stop_at (epoch seconds): wrk runs a few seconds longer, so
-- every request sent has its answer counted and the orders stored can be compared with
-- the 201s.
local next_slot = nil
function delay()
  if os.time() >= cfg.stop_at then
    return 600000
  end
  if cfg.interval_ms <= 0 then
    return 0
  end
  local now = now_ms()
  if next_slot == nil or next_slot < now - 1000 then
    next_slot = now
  end
  local wait = next_slot - now
  next_slot = next_slot + cfg.interval_ms
  return math.max(0, math.floor(wait))
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses")) do
      total[status] = (total[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(total) do
    parts[#parts + 1] = '"' .. status .. '":' .. n
  end
  local e = summary.errors
  io.write(string.format(
    'LOAD-RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"statuses":{%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), latency.max, e.connect, e.read, e.write, e.timeout, table.concat(parts, ",")))
end
