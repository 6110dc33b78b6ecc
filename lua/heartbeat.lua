-- heartbeat.lua: record the polls a replica has seen since its last flush.
--
-- KEYS[1] heartbeats  hash  user -> ms after which a silent waiter is gone
-- KEYS[2] skipped     zset  "<seq>:<user>" -> ms of the skip
-- KEYS[3] rejoined    zset  "<seq>:<user>" -> ms of the return
-- ARGV[1] now (unix ms)
-- ARGV[2] rejoin grace (ms)
-- ARGV[3..] pairs: token "<seq>:<user>", alive until (ms)
--
-- Returns {recorded, rejoined}
-- A heartbeat only extends a waiter's entry (created by entering, removed by
-- admission), so a late flush never brings back someone already admitted. A
-- poll from a skipped token within the grace puts it in the rejoined set,
-- which admission serves before the line.

local heartbeats, skipped, rejoined = KEYS[1], KEYS[2], KEYS[3]
local now, grace = tonumber(ARGV[1]), tonumber(ARGV[2])
local recorded, back = 0, 0
-- Admission skips few waiters, and most flushes find none skipped: the set
-- is looked into only when it exists (a removal below that empties it
-- leaves lookups that find nothing, as they would anyway).
local has_skipped = redis.call('EXISTS', skipped) == 1
-- Heartbeats are compared as the text they are kept as (ms since the epoch,
-- digits without leading zeros: the longer, or of the same length the later
-- in order, is the later): tonumber runs strtod twice on each, which was a
-- tenth of Redis' instructions per heartbeat (callgrind).
local function later(a, b)
  return #a > #b or (#a == #b and a > b)
end
for i = 3, #ARGV, 2 do
  local member, alive = ARGV[i], ARGV[i + 1]
  if not string.find(alive, '^%d+$') then
    return redis.error_reply('ERR heartbeat: alive until (ARGV[' .. (i + 1) .. ']) is not a number')
  end
  local at = has_skipped and tonumber(redis.call('ZSCORE', skipped, member))
  if at then
    if at + grace >= now then
      redis.call('ZREM', skipped, member)
      redis.call('ZADD', rejoined, 'NX', now, member)
      back = back + 1
    end
  else
    local user = string.sub(member, string.find(member, ':', 1, true) + 1)
    local old = redis.call('HGET', heartbeats, user)
    if old and later(alive, old) then
      -- As sent: a Lua number would be printed with sprintf at the call.
      redis.call('HSET', heartbeats, user, ARGV[i + 1])
      recorded = recorded + 1
    end
  end
end
return {recorded, back}
