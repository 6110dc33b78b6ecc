-- poll.lua: GET /api/queue/position, each request with the next token of
-- $WRK_TOKENS ("token<TAB>user_id" lines, waiting tokens), round robin.
package.path = "scripts/bench/?.lua;" .. package.path
local common = require("common")

setup = common.setup
done = common.report

local reqs, i = {}, 0

function init(args)
  for _, t in ipairs(common.tokens(os.getenv("WRK_TOKENS"))) do
    reqs[#reqs + 1] = wrk.format("GET", "/api/queue/position", { ["Authorization"] = "Bearer " .. t.token })
  end
  i = thread_id % #reqs
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end
