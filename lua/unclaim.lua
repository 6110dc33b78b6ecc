-- unclaim.lua: undo a claim after a payment failed before it committed. The
-- hold is live again until its original expiry; if that has passed, it lapses
-- now and the seat is free.
--
-- KEYS[1] record      string  "state|lease|exp|price|seat|date|user" (see
--                             hold_batch.lua); a record made by an older
--                             version may be a hash of those fields, and is
--                             kept a hash. A claimed record is always in its
--                             own key (claim.lua copies one kept in the
--                             user's set there); if it came from the set
--                             (its member is still there), the key goes and
--                             the member is scored as before the claim
-- KEYS[2] seat        string  the seat lock (the hold id while held)
-- KEYS[3] held        zset    seat number -> expiry (ms), per date
-- KEYS[4] user_holds  zset    hold id -> expiry (ms)
-- ARGV[1] hold id
-- ARGV[2] now (unix ms)
--
-- Returns code
--   1 live again until its expiry
--   2 lapsed (its expiry had passed)
--   0 nothing to undo (not claimed: never claimed, unclaimed already, or paid)
--  -1 no such hold
-- A string record that is not of that form is an error, before any write.

local rec, seat_key, held, user_holds = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id = ARGV[1]
local now = tonumber(ARGV[2])

-- f: state, exp, seat. r: the string record's fields in their order, nil for
-- a hash record (or none).
local f, r
if redis.call('TYPE', rec)['ok'] == 'string' then
  r = {string.match(redis.call('GET', rec), '^(%l+)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$')}
  if not r[1] then return redis.error_reply('ERR unclaim: bad hold record') end
  f = {r[1], r[3], r[5]}
else
  f = redis.call('HMGET', rec, 'state', 'exp', 'seat')
end
if not f[1] then return -1 end
if f[1] ~= 'claimed' then return 0 end
local exp = tonumber(f[2])
-- member: the record's member of the user's set, when it came from there
-- (the form hold_batch.lua writes, from the record's own fields).
local member
if r then
  member = id .. '|held||' .. r[3] .. '|' .. r[4] .. '|' .. r[5] .. '|' .. r[6]
  if not redis.call('ZSCORE', user_holds, member) then member = nil end
end
if member then
  redis.call('DEL', rec)
elseif r then
  -- The record keeps the ttl the claim gave it.
  r[1], r[2] = 'held', ''
  redis.call('SET', rec, table.concat(r, '|'), 'KEEPTTL')
else
  redis.call('HSET', rec, 'state', 'held')
  redis.call('HDEL', rec, 'lease')
end

-- Only touch the seat when the lock is still this hold's: if the lease ran out
-- someone else may hold the seat now, and the held entry is theirs.
local ours = redis.call('GET', seat_key) == id
if exp > now then
  if ours then
    redis.call('PEXPIRE', seat_key, exp - now)
    redis.call('ZADD', held, exp, f[3])
  end
  redis.call('ZADD', user_holds, exp, member or id)
  return 1
end
if ours then
  redis.call('DEL', seat_key)
  redis.call('ZREM', held, f[3])
end
if member then
  -- Lapsed, kept as a record until its record ttl is over, as before.
  redis.call('ZADD', user_holds, exp, member)
else
  redis.call('ZREM', user_holds, id)
end
return 2
