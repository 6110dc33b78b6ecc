-- sell.lua: record in Redis that a hold was paid (Postgres has committed the
-- sale): the seat enters the sold cache, its lock says "sold" for good (so
-- that no hold takes it again: hold_batch.lua), the user's hold slot is
-- freed, and the record says "paid". Safe to repeat.
--
-- KEYS[1] record      string  "state|lease|exp|price|seat|date|user" (see
--                             hold_batch.lua); a record made by an older
--                             version may be a hash of those fields, and is
--                             kept a hash (may be missing: Redis lost it; Go
--                             then took the seat from Postgres). A sale
--                             follows a claim, which copies a record kept in
--                             the user's set to its own key; its member goes
-- KEYS[2] seat        string  the seat lock (the hold id while held, "sold"
--                             once sold)
-- KEYS[3] held        zset    seat number -> expiry (ms), per date
-- KEYS[4] user_holds  zset    hold id -> expiry (ms)
-- KEYS[5] sold        bitmap  bit n set = seat n sold; bit 0 set = cache loaded
-- KEYS[6] stock       hash    (optional) the concert's seat count kept for
--                             admission (count_seats.lua): deleted, so that
--                             the next admission step counts the sale
-- ARGV[1] hold id
-- ARGV[2] seat number
-- ARGV[3] how long the paid record is kept (ms)
-- ARGV[4] how long the seat's "sold" lock lives (ms): until some days after
--         the date, when no hold of it is made any more (see load_sold.lua)
--
-- Returns 1. A string record that is not of that form is an error, before
-- any write.
-- SETBIT never clears a bit, and a rebuild of the sold cache only adds bits
-- and sets sold seats' locks to "sold" (and its marks last), so this cannot
-- race badly with one.

local rec, seat_key, held, user_holds, sold = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, seat = ARGV[1], ARGV[2]
local keep = tonumber(ARGV[3])
if not keep or not tonumber(ARGV[4]) then return redis.error_reply('ERR sell: bad arguments') end

-- r: the string record's fields in their order, nil for a hash record (or
-- none).
local kind = redis.call('TYPE', rec)['ok']
local r
if kind == 'string' then
  r = {string.match(redis.call('GET', rec), '^(%l+)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$')}
  if not r[1] then return redis.error_reply('ERR sell: bad hold record') end
end

redis.call('SETBIT', sold, seat, 1)
if redis.call('GET', seat_key) == id then
  redis.call('ZREM', held, seat)
end
-- Whoever holds the lock now, the seat is sold: no holder, and the lock
-- lives as long as the date can be held.
redis.call('SET', seat_key, 'sold', 'PX', ARGV[4])
if r then
  -- and the record's member, if it came from the user's set (claim.lua)
  redis.call('ZREM', user_holds, id, id .. '|held||' .. r[3] .. '|' .. r[4] .. '|' .. r[5] .. '|' .. r[6])
else
  redis.call('ZREM', user_holds, id)
end
if KEYS[6] then redis.call('DEL', KEYS[6]) end
if r then
  r[1], r[2] = 'paid', ''
  redis.call('SET', rec, table.concat(r, '|'), 'PX', keep)
elseif kind ~= 'none' then
  -- (no write above touches the record's key: it exists still)
  redis.call('HSET', rec, 'state', 'paid')
  redis.call('HDEL', rec, 'lease')
  redis.call('PEXPIRE', rec, keep)
end
return 1
