-- load_sold.lua: add sold seats read from Postgres to the sold cache of a date.
--
-- KEYS[1] sold  bitmap  bit n set = seat n sold; bit 0 set = cache loaded
-- ARGV[1] "1" on the last chunk of a rebuild: then bit 0 is set afterwards
-- ARGV[2..] seat numbers
--
-- Returns the number of seats written.
-- Bits are only ever set, never cleared and the key is never deleted, so a
-- sale recorded (sell.lua) while the rebuild runs is never lost; bit 0 goes
-- last so that a reader never sees a half-loaded cache as loaded.

local sold = KEYS[1]
for i = 2, #ARGV do
  redis.call('SETBIT', sold, ARGV[i], 1)
end
if ARGV[1] == '1' then
  redis.call('SETBIT', sold, 0, 1)
end
return #ARGV - 1
