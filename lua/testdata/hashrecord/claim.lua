-- claim.lua: claim a hold for payment. While claimed the hold can neither
-- lapse nor be claimed again: the seat lock, the held score and the user's
-- hold slot are kept until max(expiry, now + lease). The lease bounds how long
-- a crashed payment can keep a seat.
--
-- KEYS[1] record      hash    user, date, seat, price, exp, state[, lease]
-- KEYS[2] seat        string  the seat lock (the hold id while held)
-- KEYS[3] held        zset    seat number -> expiry (ms), per date
-- KEYS[4] user_holds  zset    hold id -> expiry (ms)
-- ARGV[1] hold id
-- ARGV[2] user id
-- ARGV[3] now (unix ms)
-- ARGV[4] lease (ms)
-- ARGV[5] record ttl (ms) kept after the lease ends
--
-- Returns {code, expires_ms}
--   code  1 claimed
--        -1 no such hold, or another user's
--        -2 the hold lapsed (or a previous claim's lease ran out)
--        -3 already paid
--        -4 claimed by a payment still running

local rec, seat_key, held, user_holds = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, user = ARGV[1], ARGV[2]
local now, lease, record_ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])

local f = redis.call('HMGET', rec, 'user', 'state', 'exp', 'lease', 'seat')
if not f[1] or f[1] ~= user then return {-1, 0} end
local exp = tonumber(f[3])
if f[2] == 'paid' then return {-3, exp} end
if f[2] == 'claimed' then
  if tonumber(f[4]) > now then return {-4, exp} end
  return {-2, exp}
end
-- The lock may have lapsed on the server's clock (or been taken since): then
-- the hold is gone whatever the record says.
if exp <= now or redis.call('GET', seat_key) ~= id then return {-2, exp} end

local hold_until = math.max(exp, now + lease)
redis.call('HSET', rec, 'state', 'claimed', 'lease', hold_until)
redis.call('PEXPIRE', rec, hold_until - now + record_ttl)
redis.call('PEXPIRE', seat_key, hold_until - now)
redis.call('ZADD', held, hold_until, f[5])
redis.call('ZADD', user_holds, hold_until, id)
if redis.call('PTTL', user_holds) < hold_until - now + record_ttl then
  redis.call('PEXPIRE', user_holds, hold_until - now + record_ttl)
end
return {1, exp}
