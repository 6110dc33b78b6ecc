-- enter.lua: put a user in line, or return the live token they already hold.
--
-- KEYS[1] waiting       zset  user -> arrival sequence
-- KEYS[2] active        zset  "<seq>:<user>" -> admission lapse (ms)
-- KEYS[3] active_users  hash  user -> seq of their active token
-- KEYS[4] seq           counter of arrivals
-- KEYS[5] timeline      zset  issue second -> first sequence of that second
-- KEYS[6] queue         hash  admission settings and state; field gen
-- ARGV[1] user id
-- ARGV[2] now (unix ms)
-- ARGV[3] token ttl (ms): how long a waiting token lives after issue
-- ARGV[4] a fresh random generation (1 … 2^52), kept only if the line has none
--
-- Returns {created, seq, issued_second, position, active_until_ms, gen}
--   created        1 for a new token, 0 when the live token is returned again
--   position       1-based place among waiting users, 0 when active
--   active_until   0 while waiting
--   gen            the line's generation, which the token carries: a Redis
--                  that lost the line (restarted empty, flushed) starts a new
--                  one, so tokens of the lost line are told apart
-- Order is the arrival sequence (INCR), never wall-clock time, so replicas with
-- skewed clocks cannot reorder the line.

local waiting, active, active_users, seqkey, timeline = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local user = ARGV[1]
local now = tonumber(ARGV[2])
local token_ttl = tonumber(ARGV[3])
redis.call('HSETNX', KEYS[6], 'gen', ARGV[4])
local gen = tonumber(redis.call('HGET', KEYS[6], 'gen'))

-- The issue second of a sequence: the newest timeline entry at or before it.
local function issued_of(seq)
  local hit = redis.call('ZREVRANGEBYSCORE', timeline, seq, '-inf', 'LIMIT', 0, 1)
  if #hit == 0 then return nil end
  return tonumber(hit[1])
end

local aseq = redis.call('HGET', active_users, user)
if aseq then
  local until_ms = redis.call('ZSCORE', active, aseq .. ':' .. user)
  local issued = issued_of(tonumber(aseq))
  if until_ms and tonumber(until_ms) > now and issued then
    return {0, tonumber(aseq), issued, 0, tonumber(until_ms), gen}
  end
  redis.call('HDEL', active_users, user)
end

local wseq = redis.call('ZSCORE', waiting, user)
if wseq then
  wseq = tonumber(wseq)
  local issued = issued_of(wseq)
  if issued and issued * 1000 + token_ttl > now then
    return {0, wseq, issued, redis.call('ZRANK', waiting, user) + 1, 0, gen}
  end
  -- Expired while waiting: the user starts again at the back of the line.
  redis.call('ZREM', waiting, user)
end

local seq = redis.call('INCR', seqkey)
local sec = math.floor(now / 1000)
local last = redis.call('ZREVRANGE', timeline, 0, 0)
if #last > 0 and tonumber(last[1]) >= sec then
  -- Same second (or a replica whose clock is behind): keep issue times monotonic.
  sec = tonumber(last[1])
else
  redis.call('ZADD', timeline, seq, sec)
end
redis.call('ZADD', waiting, seq, user)
return {1, seq, sec, redis.call('ZCARD', waiting), 0, gen}
