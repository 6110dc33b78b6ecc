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
local find, sub = string.find, string.sub
-- Heartbeats are compared as the text they are kept as (ms since the epoch,
-- digits without leading zeros: the longer, or of the same length the later
-- in order, is the later): tonumber runs strtod twice on each, which was a
-- tenth of Redis' instructions per heartbeat (callgrind).
local function later(a, b)
  return #a > #b or (#a == #b and a > b)
end
-- Every token and heartbeat is checked before anything is written.
local users = {}
for i = 3, #ARGV, 2 do
  local colon = find(ARGV[i], ':', 1, true)
  if not colon then
    return redis.error_reply('ERR heartbeat: token (ARGV[' .. i .. ']) is not <seq>:<user>')
  end
  if not find(ARGV[i + 1], '^%d+$') then
    return redis.error_reply('ERR heartbeat: alive until (ARGV[' .. (i + 1) .. ']) is not a number')
  end
  users[#users + 1] = sub(ARGV[i], colon + 1)
end
if #users == 0 then return {0, 0} end
-- Admission skips few waiters, and most flushes find none skipped: the set
-- is looked into only when it exists (a removal below that empties it
-- leaves lookups that find nothing, as they would anyway).
local has_skipped = redis.call('EXISTS', skipped) == 1
-- The waiters' kept heartbeats are read by one HMGET and the newer ones
-- written by one HSET: two calls per flush, not two per waiter (each call
-- costs Redis more to make from Lua than the command itself). Nothing else
-- here touches the hash; a user polled under two tokens in one flush is
-- compared with what this flush already gives it.
local kept = redis.call('HMGET', heartbeats, unpack(users))
local given, writes = {}, {}
for j, user in ipairs(users) do
  local member, alive = ARGV[2 * j + 1], ARGV[2 * j + 2]
  local at = has_skipped and tonumber(redis.call('ZSCORE', skipped, member))
  if at then
    if at + grace >= now then
      redis.call('ZREM', skipped, member)
      redis.call('ZADD', rejoined, 'NX', now, member)
      back = back + 1
    end
  else
    local old = given[user] or kept[j]
    if old and later(alive, old) then
      if not given[user] then writes[#writes + 1] = user end
      given[user] = alive
      recorded = recorded + 1
    end
  end
end
if #writes > 0 then
  local fields = {}
  for _, user in ipairs(writes) do
    fields[#fields + 1] = user
    -- As sent: a Lua number would be printed with sprintf at the call.
    fields[#fields + 1] = given[user]
  end
  redis.call('HSET', heartbeats, unpack(fields))
end
return {recorded, back}
