-- get.lua: a plain GET of the URL's path (the baselines /fixed and /zrank),
-- reporting as common.lua says.
package.path = "scripts/bench/?.lua;" .. package.path
local common = require("common")
done = common.report
