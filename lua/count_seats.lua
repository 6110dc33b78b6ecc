-- count_seats.lua: count the sold and held seats of a concert's dates, and
-- keep the totals a moment for every replica's admission.
--
-- KEYS[1] stock  hash    "sold" and "held", the totals over the dates,
--                        written here (expiring in ARGV[2] ms) when ARGV[2]
--                        > 0 and every date's sold cache is loaded; holds
--                        add to "held" (hold_batch.lua) and a sale deletes
--                        it (sell.lua), so that neither is hidden by a count
--                        made before it. A hold that lapses is not taken
--                        off: the kept count then errs on the side of
--                        fewer free seats, until it expires
-- then, for each date, 2 keys:
--   sold  bitmap  bit n set = seat n sold; bit 0 set = cache loaded
--   held  zset    seat number -> hold expiry (ms)
-- ARGV[1] now (unix ms): holds that lapse after now are live
-- ARGV[2] how long the totals are kept (ms); 0 keeps nothing
--
-- Returns, for each date, its sold seats (-1 when its sold cache is not
-- loaded: Go rebuilds it and counts again) and its live holds.
-- A script, not a pipeline, so that the totals it keeps are of one instant:
-- no sale can fall between the count and the write.

local now, keep = tonumber(ARGV[1]), tonumber(ARGV[2])
if not now or not keep or #KEYS % 2 ~= 1 then
  return redis.error_reply('ERR count_seats: bad arguments')
end
local live_from = '(' .. ARGV[1]
local out = {}
local sold_total, held_total, all_loaded = 0, 0, true
for i = 2, #KEYS, 2 do
  local sold = -1
  -- Bit 0 is the "loaded" mark, not a seat.
  if redis.call('GETBIT', KEYS[i], 0) == 1 then
    sold = redis.call('BITCOUNT', KEYS[i]) - 1
    sold_total = sold_total + sold
  else
    all_loaded = false
  end
  local held = redis.call('ZCOUNT', KEYS[i + 1], live_from, '+inf')
  held_total = held_total + held
  out[#out + 1] = sold
  out[#out + 1] = held
end
if keep > 0 and all_loaded then
  -- Both fields at once: an older count still there is replaced whole.
  redis.call('HSET', KEYS[1], 'sold', sold_total, 'held', held_total)
  redis.call('PEXPIRE', KEYS[1], keep)
end
return out
