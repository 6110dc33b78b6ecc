-- page.lua: GETs as a browser makes them (gzip, a Korean Accept-Language)
-- of the paths in $WRK_PATHS (comma-separated), in turn: the waiting page
-- alone, or its fingerprinted scripts and styles. Reports as common.lua says.
package.path = "scripts/bench/?.lua;" .. package.path
local common = require("common")

local paths = {}
for p in string.gmatch(os.getenv("WRK_PATHS") or "/", "[^,]+") do
  paths[#paths + 1] = p
end
local headers = { ["Accept-Encoding"] = "gzip", ["Accept-Language"] = "ko-KR,ko;q=0.9,en;q=0.8" }
local i = 0

request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], headers)
end

done = common.report
