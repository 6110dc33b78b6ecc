-- sell.lua: record in Redis that a hold was paid (Postgres has committed the
-- sale): the seat enters the sold cache, the seat lock and the user's hold
-- slot are freed, and the record says "paid". Safe to repeat.
--
-- KEYS[1] record      hash    user, date, seat, price, exp, state[, lease]
--                             (may be missing: Redis lost it; Go then took the
--                             seat from Postgres)
-- KEYS[2] seat        string  the seat lock (the hold id while held)
-- KEYS[3] held        zset    seat number -> expiry (ms), per date
-- KEYS[4] user_holds  zset    hold id -> expiry (ms)
-- KEYS[5] sold        bitmap  bit n set = seat n sold; bit 0 set = cache loaded
-- ARGV[1] hold id
-- ARGV[2] seat number
-- ARGV[3] how long the paid record is kept (ms)
--
-- Returns 1.
-- SETBIT never clears a bit, so this cannot race badly with a rebuild of the
-- sold cache: a rebuild only adds bits (and sets bit 0 last).

local rec, seat_key, held, user_holds, sold = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, seat = ARGV[1], ARGV[2]
local keep = tonumber(ARGV[3])

redis.call('SETBIT', sold, seat, 1)
if redis.call('GET', seat_key) == id then
  redis.call('DEL', seat_key)
  redis.call('ZREM', held, seat)
end
redis.call('ZREM', user_holds, id)
if redis.call('EXISTS', rec) == 1 then
  redis.call('HSET', rec, 'state', 'paid')
  redis.call('HDEL', rec, 'lease')
  redis.call('PEXPIRE', rec, keep)
end
return 1
