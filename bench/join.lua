-- wrk script of the rush: with JOIN_TOKENS set, walks once through its lines ("token course pace_group"), one join
-- each into race JOIN_RACE, split between wrk's threads, and each thread stops when its share is sent; without it,
-- the plain request of the command line (GET /healthz for the baseline). done() prints one line "WRK {json}".
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local mine, position = {}, 0
-- globals: done() reads them with thread:get
ok, refused, failed = 0, 0, 0
local joining = false

function init(args)
  local file = os.getenv("JOIN_TOKENS")
  if file == nil or file == "" then return end
  joining = true
  local count = tonumber(os.getenv("WRK_THREADS") or "1")
  local path = "/api/v1/races/" .. os.getenv("JOIN_RACE") .. "/queue"
  local index = 0
  for row in io.lines(file) do
    if index % count == id then
      local token, course, group = row:match("^(%S+) (%S+) (%S+)$")
      local body = '{"course":"' .. course .. '","pace_group":"' .. group .. '"}'
      table.insert(mine, wrk.format("POST", path, {["Authorization"] = "Bearer " .. token,
        ["Content-Type"] = "application/json"}, body))
    end
    index = index + 1
  end
end

function request()
  if not joining then return wrk.request() end
  position = position + 1
  if position > #mine then
    wrk.thread:stop()
    return wrk.format("GET", "/healthz")
  end
  return mine[position]
end

function response(status, headers, body)
  if status == 202 or (not joining and status == 200) then ok = ok + 1
  elseif status < 500 then refused = refused + 1
  else failed = failed + 1 end
end

function done(summary, latency, requests)
  local total_ok, total_refused, total_failed = 0, 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_refused = total_refused + thread:get("refused")
    total_failed = total_failed + thread:get("failed")
  end
  local seconds = summary.duration / 1e6
  io.write(string.format('WRK {"ok": %d, "refused": %d, "failed": %d, "requests": %d, "seconds": %.3f, ' ..
    '"ok_rps": %.1f, "p50_ms": %.2f, "p99_ms": %.2f, "socket_errors": %d}\n',
    total_ok, total_refused, total_failed, summary.requests, seconds, total_ok / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
