-- tokens.lua: POST /api/tokens, every request for a new user
-- ($WRK_PREFIX, the thread and a counter), so that each is a new place in
-- line (201). Also the body of the EVALSHA baseline (POST /evalsha).
package.path = "scripts/bench/?.lua;" .. package.path
local common = require("common")

setup = common.setup
done = common.report

local prefix = os.getenv("WRK_PREFIX") or "wrk"
local path = os.getenv("WRK_PATH") or "/api/tokens"
local headers = { ["Content-Type"] = "application/json" }
local n = 0

function request()
  n = n + 1
  local body = string.format('{"user_id":"%s-%d-%d","concert_id":1}', prefix, thread_id, n)
  return wrk.format("POST", path, headers, body)
end
