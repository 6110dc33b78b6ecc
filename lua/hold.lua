-- hold.lua: hold one seat of one date for a user, atomically: of any number of
-- concurrent calls for one seat exactly one succeeds.
--
-- KEYS[1] seat        string  the seat lock: the hold id while held (PX hold ttl)
-- KEYS[2] held        zset    seat number -> hold expiry (ms), per date
-- KEYS[3] sold        bitmap  bit n set = seat n sold; bit 0 set = cache loaded
-- KEYS[4] user_holds  zset    hold id -> expiry (ms) of the user's unpaid holds
-- KEYS[5] hold_ids    hash    the concert's block of reservation ids: 'id' the
--                     last id handed out, 'last' the last id of the block
-- KEYS[6] hold prefix the record of hold <id> is KEYS[6] .. id; the prefix
--                     carries the concert's hash tag, so Cluster routes it to
--                     the same slot as the other keys
-- ARGV[1] user id
-- ARGV[2] date (YYYY-MM-DD)
-- ARGV[3] seat number
-- ARGV[4] price (whole won)
-- ARGV[5] now (unix ms)
-- ARGV[6] hold ttl (ms)
-- ARGV[7] most live unpaid holds a user may have
-- ARGV[8] record ttl (ms): the record outlives the seat lock by this much, so
--         paying a lapsed hold is "expired", not "not found"
-- ARGV[9], ARGV[10] "" and "", or the first and last id of a block Go has
--          just reserved in Postgres: installed only when the concert's block
--          is used up or missing (e.g. lost with Redis); otherwise unused
-- ARGV[11] "1" when Go has just rebuilt the sold cache and found the seat
--          unsold in Postgres: the "loaded" bit is then not required (Redis
--          may have lost the cache again meanwhile); "0" otherwise
-- KEYS[7], ARGV[12] (optional) a gate: the hold is made only if member
--          ARGV[12] of sorted set KEYS[7] has a score above now. The caller
--          passes its admission (the token's entry in the concert's active
--          set), so checking it and holding are one atomic round trip.
--
-- Returns {code, id, expires_ms}
--   code  1 held
--        -1 seat held by someone else
--        -2 seat sold
--        -3 the user already holds ARGV[7] live seats
--        -4 the sold cache of the date is not loaded: Go rebuilds it, retries
--        -5 the id block is used up or missing and none was given: Go
--           reserves one in Postgres and retries with it
--        -6 the gate is closed

local seat_key, held, sold, user_holds, ids_key, prefix =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local user, date, seat, price = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now = tonumber(ARGV[5])
local ttl = tonumber(ARGV[6])
local max_holds = tonumber(ARGV[7])
local record_ttl = tonumber(ARGV[8])
local new_first, new_last = ARGV[9], ARGV[10]
local checked = ARGV[11] == '1'

-- Every Redis call costs about a microsecond inside the script, and a hold
-- is the hot path of a rush: the success path makes twelve at most.

if #KEYS >= 7 then
  local score = redis.call('ZSCORE', KEYS[7], ARGV[12])
  if not score or tonumber(score) <= now then return {-6, 0, 0} end
end

-- A missing sold cache must never read as "nothing sold".
if not checked and redis.call('GETBIT', sold, 0) == 0 then return {-4, 0, 0} end
if redis.call('GETBIT', sold, seat) == 1 then return {-2, 0, 0} end

-- Only live holds count; lapsed ones leave by score (no sweeper).
local live = redis.call('ZCOUNT', user_holds, '(' .. now, '+inf')
if live >= max_holds then return {-3, 0, 0} end

-- The id is drawn before the seat is taken, so a lost race burns an id:
-- ids need to be unique, not dense. An id is only ever taken from a block
-- Postgres reserved, never from a count Redis could lose and restart.
local block = redis.call('HMGET', ids_key, 'id', 'last')
local last_id, block_last = tonumber(block[1]), tonumber(block[2])
local id
if last_id and block_last and last_id < block_last then
  id = redis.call('HINCRBY', ids_key, 'id', 1)
elseif new_first ~= '' then
  redis.call('HSET', ids_key, 'id', new_first, 'last', new_last)
  id = tonumber(new_first)
else
  return {-5, 0, 0}
end
-- Lua prints numbers from 10^14 on with an exponent: format the key's id.
local sid = string.format('%d', id)
local exp = now + ttl

if not redis.call('SET', seat_key, sid, 'NX', 'PX', ttl) then return {-1, 0, 0} end
redis.call('HSET', prefix .. sid, 'user', user, 'date', date, 'seat', seat,
  'price', price, 'exp', exp, 'state', 'held')
redis.call('PEXPIRE', prefix .. sid, ttl + record_ttl)

redis.call('ZADD', held, exp, seat)
redis.call('ZADD', user_holds, exp, sid)
-- The set must outlive its live holds. With a live hold in it already, its
-- expiry (set by that hold: its expiry + record ttl) is later than this
-- hold's own expiry whenever record ttl is at least ttl: then only the
-- set's first live hold sets it.
if live == 0 or ttl > record_ttl then
  redis.call('PEXPIRE', user_holds, ttl + record_ttl)
end
-- Lapsed entries are skipped by score everywhere; prune them now and then
-- so the sets do not grow.
if id % 32 == 0 then
  redis.call('ZREMRANGEBYSCORE', held, '-inf', now)
  redis.call('ZREMRANGEBYSCORE', user_holds, '-inf', now)
end
return {1, id, exp}
