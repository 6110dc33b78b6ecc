-- settings.lua: read, and optionally change, a concert's admission settings.
--
-- KEYS[1] queue    hash  settings and state (see admit.lua)
-- KEYS[2] waiting  zset
-- KEYS[3] active   zset
-- KEYS[4] prequeue hash  pre-queue entrants
-- ARGV[1] now (unix ms)
-- ARGV[2] default admit_per_second
-- ARGV[3] default max_active
-- ARGV[4] default active_ttl_ms
-- ARGV[5..] field, value pairs to set (admit_per_second, max_active,
--           active_ttl_ms, paused); none to only read
--
-- Returns {admit_per_second * 1000, max_active, active_ttl_ms, paused,
--          admitted_total, waiting, active, skipped_total, opens_at_ms,
--          state, free_seats}
--   waiting     counts the pre-queue entrants not placed in line yet
--   state       0 open, 1 scheduled, 2 placing the pre-queue, 3 sold out
--   free_seats  as the latest admission step saw them, -1 when unknown
-- Every replica's admission step reads these fields on its next tick, so a
-- change reaches all of them within one tick. A rate that is not a finite
-- number >= 0 is stored and reported as 0, as admit.lua counts it (the
-- gateway refuses such values before they get here).

local q = KEYS[1]
local now = tonumber(ARGV[1])
local function sane_rate(x)
  if x ~= nil and x == x and x >= 0 and x ~= math.huge then return x end
  return 0
end
redis.call('HSETNX', q, 'admit_per_second', tostring(sane_rate(tonumber(ARGV[2]))))
redis.call('HSETNX', q, 'max_active', ARGV[3])
redis.call('HSETNX', q, 'active_ttl_ms', ARGV[4])
redis.call('HSETNX', q, 'paused', '0')
for i = 5, #ARGV, 2 do
  local v = ARGV[i + 1]
  if ARGV[i] == 'admit_per_second' then v = tostring(sane_rate(tonumber(v))) end
  redis.call('HSET', q, ARGV[i], v)
end
local s = redis.call('HMGET', q, 'admit_per_second', 'max_active', 'active_ttl_ms', 'paused', 'admitted_total',
  'skipped_total', 'opens_at_ms', 'phase', 'sold_out', 'free_seats', 'placed')
local waiting = redis.call('ZCARD', KEYS[2])
local state = 0
if s[9] == '1' then
  state = 3
elseif s[8] == 'scheduled' then
  state = 1
  waiting = waiting + redis.call('HLEN', KEYS[4])
elseif s[8] == 'placing' then
  state = 2
  waiting = waiting + redis.call('HLEN', KEYS[4]) - (tonumber(s[11]) or 0)
end
return {math.floor(sane_rate(tonumber(s[1])) * 1000 + 0.5), tonumber(s[2]) or 0, tonumber(s[3]) or 0,
  s[4] == '1' and 1 or 0, tonumber(s[5]) or 0, waiting,
  redis.call('ZCOUNT', KEYS[3], string.format('(%d', now), '+inf'),
  tonumber(s[6]) or 0, tonumber(s[7]) or 0, state, tonumber(s[10]) or -1}
