-- unclaim.lua: undo a claim after a payment failed before it committed. The
-- hold is live again until its original expiry; if that has passed, it lapses
-- now and the seat is free.
--
-- KEYS[1] record      hash    user, date, seat, price, exp, state[, lease]
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

local rec, seat_key, held, user_holds = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id = ARGV[1]
local now = tonumber(ARGV[2])

local f = redis.call('HMGET', rec, 'state', 'exp', 'seat')
if not f[1] then return -1 end
if f[1] ~= 'claimed' then return 0 end
local exp = tonumber(f[2])
redis.call('HSET', rec, 'state', 'held')
redis.call('HDEL', rec, 'lease')

-- Only touch the seat when the lock is still this hold's: if the lease ran out
-- someone else may hold the seat now, and the held entry is theirs.
local ours = redis.call('GET', seat_key) == id
if exp > now then
  if ours then
    redis.call('PEXPIRE', seat_key, exp - now)
    redis.call('ZADD', held, exp, f[3])
  end
  redis.call('ZADD', user_holds, exp, id)
  return 1
end
if ours then
  redis.call('DEL', seat_key)
  redis.call('ZREM', held, f[3])
end
redis.call('ZREM', user_holds, id)
return 2
