-- pay.lua: POST /api/payment, every request for a different hold of
-- $WRK_HOLDS ("token<TAB>user_id<TAB>reservation_id<TAB>amount" lines, from
-- rushload holds), each with its own Idempotency-Key, so that each is a real
-- payment (201). The run uses the holds [$WRK_FIRST, $WRK_FIRST+$WRK_COUNT);
-- request k of thread t (of $WRK_THREADS) pays hold k*threads + t of them.
-- A thread that runs out pays its holds again under new keys: those answer
-- 409 already_paid and count as errors, so a run that needed more holds
-- shows it. Every answer but 201 is tallied by status and error code into
-- $WRK_STATUSES (one "count status code" line each), to tell why.
package.path = "scripts/bench/?.lua;" .. package.path
local common = require("common")

local thread_list = {}
function setup(thread)
  common.setup(thread)
  thread_list[#thread_list + 1] = thread
end

-- others counts, in each thread, the answers but 201 by "status code".
others = {}
function response(status, headers, body)
  if status ~= 201 then
    local key = tostring(status) .. " " .. (body:match('"code":"([^"]*)"') or "-")
    others[key] = (others[key] or 0) + 1
  end
end

function done(summary, latency, requests)
  common.report(summary, latency, requests)
  local path = os.getenv("WRK_STATUSES")
  if not path or path == "" then return end
  local all = {}
  for _, t in ipairs(thread_list) do
    for k, n in pairs(t:get("others") or {}) do all[k] = (all[k] or 0) + n end
  end
  local f = assert(io.open(path, "w"))
  for k, n in pairs(all) do f:write(n, " ", k, "\n") end
  f:close()
end

local threads = tonumber(os.getenv("WRK_THREADS") or "1")
local holds, k = {}, 0
local headers = { ["Content-Type"] = "application/json" }
local run = os.getenv("WRK_LABEL") or "pay"

function init(args)
  local first = tonumber(os.getenv("WRK_FIRST") or "0")
  local count = tonumber(os.getenv("WRK_COUNT") or "0")
  local i = 0
  for l in io.lines(os.getenv("WRK_HOLDS")) do
    if i >= first and (count <= 0 or i < first + count) then
      local token, user, rid, amount = l:match("^([^\t]+)\t([^\t]+)\t(%d+)\t(%d+)$")
      if token then holds[#holds + 1] = { token = token, user = user, rid = rid, amount = amount } end
    end
    i = i + 1
  end
  assert(#holds > 0, "no holds in " .. os.getenv("WRK_HOLDS"))
end

function request()
  local g = k * threads + thread_id
  k = k + 1
  local h = holds[g % #holds + 1]
  headers["Authorization"] = "Bearer " .. h.token
  headers["Idempotency-Key"] = string.format("%s-%s-%d", run, h.rid, math.floor(g / #holds))
  local body = string.format('{"user_id":"%s","reservation_id":%s,"amount":%s}', h.user, h.rid, h.amount)
  return wrk.format("POST", "/api/payment", headers, body)
end
