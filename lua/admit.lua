-- admit.lua: one admission step of a concert, safe to run from every replica.
--
-- KEYS[1] queue         hash  settings and state (see below)
-- KEYS[2] waiting       zset  user -> arrival sequence
-- KEYS[3] active        zset  "<seq>:<user>" -> admission lapse (ms)
-- KEYS[4] active_users  hash  user -> seq of their active token
-- KEYS[5] timeline      zset  issue second -> first sequence of that second
-- ARGV[1] now (unix ms)
-- ARGV[2] default admit_per_second    (used only when the concert has none yet)
-- ARGV[3] default max_active
-- ARGV[4] default active_ttl_ms
-- ARGV[5] token ttl (ms): waiting tokens older than this are skipped
-- ARGV[6] most tokens admitted by one call
-- ARGV[7] bucket depth in seconds of the rate (the largest burst allowed)
-- ARGV[8] a fresh random generation, kept only if the line has none (enter.lua)
--
-- Queue hash fields: admit_per_second, max_active, active_ttl_ms, paused (0/1)
-- are settings; tokens, last_ms, head, admitted_total are this script's state;
-- gen is the line's generation (see enter.lua).
-- All state lives here, so any number of replicas calling this script admit
-- exactly as one would: no leader election.
--
-- Returns {admitted, head, waiting, active, admitted_total, paused,
--          admit_per_second * 1000, max_active, active_ttl_ms, gen}
--
-- The bucket ('tokens') is only ever stored finite: a NaN or infinite rate or
-- bucket, wherever it came from, counts as 0, so a bad value can pause the
-- line at worst, and the next valid setting heals it. (NaN spreads through
-- every sum and fails every comparison: stored once, it would stop admission
-- for good.)

local q, waiting, active, active_users, timeline = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now = tonumber(ARGV[1])
local token_ttl = tonumber(ARGV[5])
local batch = tonumber(ARGV[6])
local depth = tonumber(ARGV[7])

local function finite(x)
  return x ~= nil and x == x and x ~= math.huge and x ~= -math.huge
end
local function sane_rate(x)
  if finite(x) and x >= 0 then return x end
  return 0
end

redis.call('HSETNX', q, 'admit_per_second', tostring(sane_rate(tonumber(ARGV[2]))))
redis.call('HSETNX', q, 'max_active', ARGV[3])
redis.call('HSETNX', q, 'active_ttl_ms', ARGV[4])
redis.call('HSETNX', q, 'paused', '0')
redis.call('HSETNX', q, 'gen', ARGV[8])
local s = redis.call('HMGET', q, 'admit_per_second', 'max_active', 'active_ttl_ms', 'paused',
  'tokens', 'last_ms', 'head', 'admitted_total', 'gen')
local rate = sane_rate(tonumber(s[1]))
local max_active = tonumber(s[2]) or 0
local active_ttl = tonumber(s[3]) or 0
local paused = s[4] == '1'
local tokens = tonumber(s[5])
if not finite(tokens) then tokens = 0 end
local last = tonumber(s[6]) or now
local head = tonumber(s[7]) or 0
local total = tonumber(s[8]) or 0

-- Lapse active tokens whose time is up, freeing their slots.
local lapsed = redis.call('ZRANGEBYSCORE', active, '-inf', now, 'LIMIT', 0, 1000)
for _, member in ipairs(lapsed) do
  local sep = string.find(member, ':', 1, true)
  local seq, user = string.sub(member, 1, sep - 1), string.sub(member, sep + 1)
  if redis.call('HGET', active_users, user) == seq then
    redis.call('HDEL', active_users, user)
  end
  redis.call('ZREM', active, member)
end

local function issued_of(seq)
  local hit = redis.call('ZREVRANGEBYSCORE', timeline, seq, '-inf', 'LIMIT', 0, 1)
  if #hit == 0 then return nil end
  return tonumber(hit[1])
end

local admitted = 0
if paused then
  -- No credit builds up while paused, so resuming never bursts.
  tokens = 0
else
  local elapsed = now - last
  if elapsed < 0 then elapsed = 0 end
  tokens = tokens + elapsed * rate / 1000
  local cap = math.max(1, rate * depth)
  if tokens > cap then tokens = cap end
  local room = max_active - redis.call('ZCARD', active)
  local want = math.min(math.floor(tokens), room, batch)
  local skipped = 0
  while admitted < want and skipped < batch * 10 do
    local popped = redis.call('ZPOPMIN', waiting, want - admitted)
    if #popped == 0 then break end
    for i = 1, #popped, 2 do
      local user, seq = popped[i], tonumber(popped[i + 1])
      if seq > head then head = seq end
      local issued = issued_of(seq)
      if issued and issued * 1000 + token_ttl > now then
        local seqs = string.format('%d', seq)
        redis.call('ZADD', active, now + active_ttl, seqs .. ':' .. user)
        redis.call('HSET', active_users, user, seqs)
        admitted = admitted + 1
      else
        skipped = skipped + 1
      end
    end
  end
  tokens = tokens - admitted
  total = total + admitted
end

-- Forget timeline seconds older than any token that can still be live.
for _ = 1, 100 do
  local oldest = redis.call('ZRANGE', timeline, 0, 0)
  if #oldest == 0 or tonumber(oldest[1]) * 1000 >= now - token_ttl - active_ttl - 60000 then break end
  redis.call('ZREM', timeline, oldest[1])
end

if now > last then last = now end
if not finite(tokens) then tokens = 0 end
redis.call('HSET', q, 'tokens', tostring(tokens), 'last_ms', string.format('%d', last),
  'head', string.format('%d', head), 'admitted_total', string.format('%d', total))
return {admitted, head, redis.call('ZCARD', waiting), redis.call('ZCARD', active), total,
  paused and 1 or 0, math.floor(rate * 1000 + 0.5), max_active, active_ttl, tonumber(s[9])}
