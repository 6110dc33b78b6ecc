-- place.lua: place one batch of the pre-queue in line, in draw order.
--
-- KEYS[1] queue       hash  settings and state (see admit.lua)
-- KEYS[2] waiting     zset  user -> place in line
-- KEYS[3] draw        hash  seed, commitment, opens_at_ms, entrants, keys_digest
-- KEYS[4] draw_order  list  pre-queue users in draw-key order
-- ARGV[1] index in the draw order of this batch's first user (0-based)
-- ARGV[2] entrants: size of the whole pre-queue
-- ARGV[3] keys digest of the whole draw (hex)
-- ARGV[4..] the batch's users, in draw order
--
-- Returns {code, placed}
--   code  1 placed this batch (and with the last one the sale is open)
--         0 not this batch: another replica got there first; placed says
--           where to go on from
--        -1 not placing (not open yet, or done)
-- Every replica computes the same order from the seed, so whichever replica
-- writes a batch writes the same one; a batch is accepted only where the
-- previous one ended, so the line keeps the draw's order and each call is
-- bounded, however large the pre-queue. Places run from open_seq - entrants
-- + 1 to open_seq, just ahead of the first arrival after the open.

local q, waiting, draw, order = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local start = tonumber(ARGV[1])
local entrants = tonumber(ARGV[2])

local s = redis.call('HMGET', q, 'phase', 'placed', 'open_seq', 'head')
local placed = tonumber(s[2]) or 0
if s[1] ~= 'placing' then return {-1, placed} end
if placed ~= start then return {0, placed} end
local base = (tonumber(s[3]) or 0) - entrants
for i = 4, #ARGV do
  placed = placed + 1
  redis.call('ZADD', waiting, base + placed, ARGV[i])
  redis.call('RPUSH', order, ARGV[i])
end
redis.call('HSET', q, 'placed', string.format('%d', placed))
if placed >= entrants then
  -- Admission starts just before the first placed entrant.
  if (tonumber(s[4]) or 0) < base then redis.call('HSET', q, 'head', string.format('%d', base)) end
  redis.call('HSET', q, 'phase', 'drawn')
  redis.call('HSET', draw, 'entrants', string.format('%d', entrants), 'keys_digest', ARGV[3])
end
return {1, placed}
