-- load_sold.lua: add sold seats read from Postgres to the sold cache of a
-- date: their bits in the bitmap (which listings and seat counts read) and
-- their seat locks, set to "sold" (which holds read: hold_batch.lua).
--
-- KEYS[1] sold         bitmap  bit n set = seat n sold; bit 0 set = cache loaded
-- KEYS[2] lock prefix  the lock of seat n is KEYS[2] .. n; the lock of seat 0
--                      (no seat has that number) is set to "loaded" once
--                      every sold seat's lock is set. The prefix carries the
--                      concert's hash tag, so Cluster routes the locks to
--                      the same slot as the bitmap.
-- ARGV[1] "1" on the last chunk of a rebuild: then bit 0 and the "loaded"
--         lock are set afterwards
-- ARGV[2] how long the locks live (ms): until some days after the date, when
--         no hold of it is made any more (a lock per sold seat would
--         otherwise stay in Redis for good)
-- ARGV[3..] seat numbers
--
-- Returns the number of seats written.
-- Bits are only ever set, never cleared, and a sold seat's lock only ever
-- set to "sold", so a sale recorded (sell.lua) while the rebuild runs is
-- never lost; the marks go last so that a reader never sees a half-loaded
-- cache as loaded.

local sold, locks, life = KEYS[1], KEYS[2], ARGV[2]
for i = 3, #ARGV do
  redis.call('SETBIT', sold, ARGV[i], 1)
  redis.call('SET', locks .. ARGV[i], 'sold', 'PX', life)
end
if ARGV[1] == '1' then
  redis.call('SETBIT', sold, 0, 1)
  redis.call('SET', locks .. '0', 'loaded', 'PX', life)
end
return #ARGV - 2
