-- schedule.lua: set, move or clear the scheduled open of a concert's sale.
--
-- KEYS[1] queue     hash  settings and state (see admit.lua)
-- KEYS[2] draw      hash  seed, commitment, opens_at_ms, entrants, keys_digest
-- KEYS[3] seq       counter of arrivals
-- KEYS[4] prequeue  hash  pre-queue entrants
-- ARGV[1] opens_at (unix ms); 0 clears the schedule
-- ARGV[2] a fresh seed (hex), kept only when the concert has no draw yet
-- ARGV[3] its commitment sha256(seed) (hex)
-- ARGV[4] now (unix ms)
--
-- Returns {code, opens_at_ms, commitment}
--   code  1 scheduled (commitment is the draw's, old or new)
--         0 no schedule (cleared, or there was none)
--         2 cleared while people were in the pre-queue: the sale opens now,
--           with the draw already committed to
--        -1 the sale is open already: the schedule can no longer change
-- The seed of a draw never changes once its commitment is published: moving
-- the open keeps it, so the published commitment stays the one checked.

local q, draw, seqkey, prequeue = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local opens_at = tonumber(ARGV[1])
local now = tonumber(ARGV[4])

local phase = redis.call('HGET', q, 'phase') or ''
if phase == 'placing' or phase == 'drawn' then return {-1, 0, ''} end
if phase == '' and (tonumber(redis.call('GET', seqkey)) or 0) > 0 then
  -- An unscheduled line that people have already joined: it is open.
  return {-1, 0, ''}
end

if opens_at == 0 then
  if phase ~= 'scheduled' then return {0, 0, ''} end
  if redis.call('HLEN', prequeue) == 0 then
    redis.call('HDEL', q, 'phase', 'opens_at_ms')
    redis.call('DEL', draw)
    return {0, 0, ''}
  end
  opens_at = now
end

if not redis.call('HGET', draw, 'commitment') then
  redis.call('HSET', draw, 'seed', ARGV[2], 'commitment', ARGV[3])
end
local ms = string.format('%d', opens_at)
redis.call('HSET', q, 'phase', 'scheduled', 'opens_at_ms', ms)
redis.call('HSET', draw, 'opens_at_ms', ms)
local code = 1
if tonumber(ARGV[1]) == 0 then code = 2 end
return {code, opens_at, redis.call('HGET', draw, 'commitment')}
