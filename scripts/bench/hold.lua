-- hold.lua: POST /api/reservation, every request for a different seat, with
-- the admitted tokens of $WRK_TOKENS ("token<TAB>user_id" lines). Request k
-- of thread t (of $WRK_THREADS) is hold number g = $WRK_OFFSET + k*threads + t:
-- it takes seat g counted across the dates of $WRK_DATES (comma separated)
-- of $WRK_SEATS seats each, for user g / $WRK_HOLDS_PER_USER (the gateway's
-- MAX_HOLDS_PER_USER), so that every request can succeed (201) while tokens
-- and seats last. Successive runs pass successive offsets. $WRK_PATH sends
-- the same requests elsewhere (the EVALSHA baseline: POST /evalsha). Its
-- JSON line's next_hold is one past the highest hold number sent (threads
-- need not send alike), where a later run may start.
package.path = "scripts/bench/?.lua;" .. package.path
local common = require("common")

setup = common.setup

local threads = tonumber(os.getenv("WRK_THREADS") or "1")
local seats = tonumber(os.getenv("WRK_SEATS"))
local per_user = tonumber(os.getenv("WRK_HOLDS_PER_USER") or "4")
local offset = tonumber(os.getenv("WRK_OFFSET") or "0")
local path = os.getenv("WRK_PATH") or "/api/reservation"
local dates, users = {}, {}
-- k, the requests this thread has made, is global for done() to read.
k = 0
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  for d in string.gmatch(os.getenv("WRK_DATES"), "[^,]+") do dates[#dates + 1] = d end
  users = common.tokens(os.getenv("WRK_TOKENS"))
end

function request()
  local g = offset + k * threads + thread_id
  k = k + 1
  local u = users[math.floor(g / per_user) % #users + 1]
  local date = dates[math.floor(g / seats) % #dates + 1]
  local body = string.format('{"user_id":"%s","reservation_date":"%s","reservation_seat":%d}',
    u.user, date, g % seats + 1)
  headers["Authorization"] = "Bearer " .. u.token
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  local next_hold = offset
  for _, thread in ipairs(common.threads) do
    local sent = thread:get("k")
    if sent > 0 then
      next_hold = math.max(next_hold, offset + (sent - 1) * threads + thread:get("thread_id") + 1)
    end
  end
  common.report(summary, latency, requests, { next_hold = next_hold })
end
