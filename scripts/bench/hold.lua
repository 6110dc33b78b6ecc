-- hold.lua: POST /api/reservation, every request for a different seat, with
-- the admitted tokens of $WRK_TOKENS ("token<TAB>user_id" lines). Seats are
-- dealt out over the threads without overlap: request k of thread t of n
-- takes seat number k*n+t counted across the dates of $WRK_DATES (comma
-- separated) of $WRK_SEATS seats each. Each token makes $WRK_HOLDS_PER_USER
-- holds (MAX_HOLDS_PER_USER) before the next token takes over, so that
-- every request can succeed (201) while tokens and seats last.
package.path = "scripts/bench/?.lua;" .. package.path
local common = require("common")

setup = common.setup
done = common.report

local threads = tonumber(os.getenv("WRK_THREADS") or "1")
local seats = tonumber(os.getenv("WRK_SEATS"))
local per_user = tonumber(os.getenv("WRK_HOLDS_PER_USER") or "4")
local dates, mine, k = {}, {}, 0
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  for d in string.gmatch(os.getenv("WRK_DATES"), "[^,]+") do dates[#dates + 1] = d end
  local all = common.tokens(os.getenv("WRK_TOKENS"))
  for idx = thread_id + 1, #all, threads do mine[#mine + 1] = all[idx] end
end

function request()
  local u = mine[math.floor(k / per_user) % #mine + 1]
  local n = k * threads + thread_id
  k = k + 1
  local date = dates[math.floor(n / seats) % #dates + 1]
  local body = string.format('{"user_id":"%s","reservation_date":"%s","reservation_seat":%d}',
    u.user, date, n % seats + 1)
  headers["Authorization"] = "Bearer " .. u.token
  return wrk.format("POST", "/api/reservation", headers, body)
end
