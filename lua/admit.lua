-- admit.lua: one admission step of a concert, safe to run from every replica.
--
-- KEYS[1]  queue         hash  settings and state (see below)
-- KEYS[2]  waiting       zset  user -> place in line
-- KEYS[3]  active        zset  "<seq>:<user>" -> admission lapse (ms)
-- KEYS[4]  active_users  hash  user -> seq of their active token
-- KEYS[5]  timeline      zset  issue second -> first sequence of that second
-- KEYS[6]  seq           counter of arrivals
-- KEYS[7]  prequeue      hash  user -> "<seq>:<issue second>" of pre-queue entrants
-- KEYS[8]  heartbeats    hash  user -> ms after which a silent waiter is gone
-- KEYS[9]  skipped       zset  "<seq>:<user>" -> ms of the skip
-- KEYS[10] rejoined      zset  "<seq>:<user>" -> ms of the return
-- KEYS[11] skipped_users hash  user -> "<seq>:<issue second>:<expiry ms>" of
--                              their token in skipped or rejoined (enter.lua)
-- ARGV[1]  now (unix ms)
-- ARGV[2]  default admit_per_second    (used only when the concert has none yet)
-- ARGV[3]  default max_active
-- ARGV[4]  default active_ttl_ms
-- ARGV[5]  token ttl (ms): waiting tokens older than this are dropped
-- ARGV[6]  most tokens admitted (or released) by one call
-- ARGV[7]  bucket depth in seconds of the rate (the largest burst allowed)
-- ARGV[8]  free seats (-1: unknown, admission is not held back)
-- ARGV[9]  1 when every seat is sold
-- ARGV[10] rejoin grace (ms): how long a skipped token may come back
-- ARGV[11] a fresh random generation, kept only if the line has none (enter.lua)
--
-- Queue hash fields: admit_per_second, max_active, active_ttl_ms, paused (0/1)
-- are settings; opens_at_ms and phase ('scheduled', 'placing', 'drawn', or
-- none) the schedule (schedule.lua, place.lua); tokens, last_ms, head,
-- admitted_total, skipped_total, open_seq, open_ms, free_seats, sold_out are
-- this script's state; gen is the line's generation (see enter.lua).
-- All state lives here, so any number of replicas
-- calling this script admit exactly as one would: no leader election.
--
-- Returns {admitted, head, waiting, active, admitted_total, paused,
--          admit_per_second * 1000, max_active, active_ttl_ms,
--          state, open_seq, opens_at_ms, skipped_total, free_seats, skipped, gen}
--   skipped  tokens this step skipped as silent
--   state  0 open, 1 scheduled, 2 placing the pre-queue, 3 sold out
--
-- The bucket ('tokens') is only ever stored finite: a NaN or infinite rate or
-- bucket, wherever it came from, counts as 0, so a bad value can pause the
-- line at worst, and the next valid setting heals it. (NaN spreads through
-- every sum and fails every comparison: stored once, it would stop admission
-- for good.)

local q, waiting, active, active_users, timeline = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local seqkey, prequeue, heartbeats, skipped_set, rejoined = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local skipped_users = KEYS[11]
local now = tonumber(ARGV[1])
local token_ttl = tonumber(ARGV[5])
local batch = tonumber(ARGV[6])
local depth = tonumber(ARGV[7])
local free = tonumber(ARGV[8])
local sold_out = ARGV[9] == '1'
local grace = tonumber(ARGV[10])

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
redis.call('HSETNX', q, 'gen', ARGV[11])
local s = redis.call('HMGET', q, 'admit_per_second', 'max_active', 'active_ttl_ms', 'paused',
  'tokens', 'last_ms', 'head', 'admitted_total', 'phase', 'opens_at_ms', 'open_seq', 'open_ms',
  'skipped_total', 'gen')
local rate = sane_rate(tonumber(s[1]))
local max_active = tonumber(s[2]) or 0
local active_ttl = tonumber(s[3]) or 0
local paused = s[4] == '1'
local tokens = tonumber(s[5])
if not finite(tokens) then tokens = 0 end
local last = tonumber(s[6]) or now
local head = tonumber(s[7]) or 0
local total = tonumber(s[8]) or 0
local phase = s[9] or ''
local opens_at = tonumber(s[10]) or 0
local open_seq = tonumber(s[11]) or 0
local open_ms = tonumber(s[12]) or 0
local skipped_total = tonumber(s[13]) or 0
local skipped_before = skipped_total

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

-- Forget the user's entry in skipped_users when it names this token.
local function forget_skip(seqs, user)
  local sk = redis.call('HGET', skipped_users, user)
  if sk and string.sub(sk, 1, #seqs + 1) == seqs .. ':' then
    redis.call('HDEL', skipped_users, user)
  end
end

-- A skipped token may come back only within the grace (bounded per step;
-- the next step goes on).
local stale = redis.call('ZRANGEBYSCORE', skipped_set, '-inf', string.format('(%d', now - grace), 'LIMIT', 0, 1000)
for _, member in ipairs(stale) do
  local sep = string.find(member, ':', 1, true)
  forget_skip(string.sub(member, 1, sep - 1), string.sub(member, sep + 1))
  redis.call('ZREM', skipped_set, member)
end

local function issued_of(seq)
  local hit = redis.call('ZREVRANGEBYSCORE', timeline, seq, '-inf', 'LIMIT', 0, 1)
  if #hit == 0 then return nil end
  return tonumber(hit[1])
end

-- Whether user holds a live active token already. A user has one place in
-- line (enter.lua sees to it); this keeps a slot from ever being spent twice
-- on one user all the same.
local function is_active(user)
  local aseq = redis.call('HGET', active_users, user)
  if not aseq then return false end
  local until_ms = tonumber(redis.call('ZSCORE', active, aseq .. ':' .. user))
  return until_ms ~= nil and until_ms > now
end

local function activate(seqs, user)
  redis.call('ZADD', active, now + active_ttl, seqs .. ':' .. user)
  redis.call('HSET', active_users, user, seqs)
end

local state = 0
local admitted = 0
if sold_out then
  -- Nothing left to sell: release the line in bounded steps, and let no one in.
  state = 3
  local gone = redis.call('ZPOPMIN', waiting, batch)
  for i = 1, #gone, 2 do redis.call('HDEL', heartbeats, gone[i]) end
  redis.call('DEL', rejoined, skipped_set, skipped_users)
  tokens = 0
elseif phase == 'scheduled' and now >= opens_at then
  -- The open. The pre-queue is everyone whose arrival came before this cut,
  -- a point in the one arrival sequence, so replicas agree on it whatever
  -- their clocks. Placement (place.lua) runs next; nobody is admitted until
  -- it is done, so nobody who arrived later can pass the pre-queue.
  open_seq = tonumber(redis.call('GET', seqkey)) or 0
  open_ms = now
  phase = 'placing'
  redis.call('HSET', q, 'phase', phase, 'open_seq', string.format('%d', open_seq),
    'open_ms', string.format('%d', open_ms), 'placed', '0')
  state = 2
  tokens = 0
elseif phase == 'scheduled' or phase == 'placing' then
  state = phase == 'scheduled' and 1 or 2
  tokens = 0
elseif paused or free == 0 then
  -- No credit builds up while paused (by an admin, or because no seat is
  -- free), so resuming never bursts.
  tokens = 0
else
  local elapsed = now - last
  if elapsed < 0 then elapsed = 0 end
  tokens = tokens + elapsed * rate / 1000
  local cap = math.max(1, rate * depth)
  if tokens > cap then tokens = cap end
  local room = max_active - redis.call('ZCARD', active)

  -- Skipped tokens that came back go first, whenever there is room.
  if room > 0 then
    local back = redis.call('ZRANGE', rejoined, 0, math.min(room, batch) - 1)
    for _, member in ipairs(back) do
      local sep = string.find(member, ':', 1, true)
      local seqs, user = string.sub(member, 1, sep - 1), string.sub(member, sep + 1)
      redis.call('ZREM', rejoined, member)
      forget_skip(seqs, user)
      if not is_active(user) then
        activate(seqs, user)
        admitted = admitted + 1
      end
    end
    room = room - admitted
  end

  local want = math.min(math.floor(tokens) - admitted, room, batch)
  local taken = 0
  local passed = 0
  while taken < want and passed < batch * 10 do
    local popped = redis.call('ZPOPMIN', waiting, want - taken)
    if #popped == 0 then break end
    for i = 1, #popped, 2 do
      local user, place = popped[i], tonumber(popped[i + 1])
      if place > head then head = place end
      local seq, issued, expires
      if place <= open_seq then
        -- A pre-queue entrant: its place came from the draw, its token from the pre-queue.
        local pre = redis.call('HGET', prequeue, user) or ''
        local sep = string.find(pre, ':', 1, true)
        seq = sep and tonumber(string.sub(pre, 1, sep - 1))
        issued = sep and tonumber(string.sub(pre, sep + 1))
        expires = open_ms + token_ttl
      else
        seq = place
        issued = issued_of(seq)
        expires = issued and issued * 1000 + token_ttl or 0
      end
      local beat = tonumber(redis.call('HGET', heartbeats, user))
      redis.call('HDEL', heartbeats, user)
      local seqs = seq and string.format('%d', seq)
      if not seq or not issued or expires <= now or is_active(user) then
        passed = passed + 1
      elseif beat and beat < now then
        -- Silent too long: gone, most likely. Not admitted, no slot taken.
        redis.call('ZADD', skipped_set, now, seqs .. ':' .. user)
        redis.call('HSET', skipped_users, user, string.format('%s:%d:%d', seqs, issued, expires))
        skipped_total = skipped_total + 1
        passed = passed + 1
      else
        activate(seqs, user)
        taken = taken + 1
      end
    end
  end
  admitted = admitted + taken
  tokens = math.max(0, tokens - admitted)
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
  'head', string.format('%d', head), 'admitted_total', string.format('%d', total),
  'skipped_total', string.format('%d', skipped_total), 'free_seats', string.format('%d', free),
  'sold_out', sold_out and '1' or '0')
return {admitted, head, redis.call('ZCARD', waiting), redis.call('ZCARD', active), total,
  paused and 1 or 0, math.floor(rate * 1000 + 0.5), max_active, active_ttl,
  state, open_seq, opens_at, skipped_total, free, skipped_total - skipped_before, tonumber(s[14])}
