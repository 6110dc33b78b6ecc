-- enter.lua: put users in line (or in the pre-queue of a scheduled sale), or
-- return the live token each already holds. One run enters one user or a batch
-- of many concurrent arrivals, in the order given, exactly as the same users
-- entering one by one would be: each sees the line as the users before it in
-- the batch left it.
--
-- KEYS[1] waiting       zset  user -> place in line (the arrival sequence, or
--                             for a pre-queue entrant its place from the draw)
-- KEYS[2] active        zset  "<seq>:<user>" -> admission lapse (ms)
-- KEYS[3] active_users  hash  user -> seq of their active token
-- KEYS[4] seq           counter of arrivals
-- KEYS[5] timeline      zset  issue second -> first sequence of that second
-- KEYS[6] queue         hash  settings and state (see admit.lua); field gen
-- KEYS[7] prequeue      hash  user -> "<seq>:<issue second>" of pre-queue entrants
-- KEYS[8] heartbeats    hash  user -> ms after which a silent waiter is gone
-- KEYS[9] skipped       zset  "<seq>:<user>" -> ms of the skip
-- KEYS[10] rejoined     zset  "<seq>:<user>" -> ms of the return
-- KEYS[11] skipped_users hash user -> "<seq>:<issue second>:<expiry ms>" of
--                             their token in skipped or rejoined
-- ARGV[1] now (unix ms)
-- ARGV[2] token ttl (ms): how long a waiting token lives after issue (after
--         the open for a pre-queue entrant)
-- ARGV[3] abandon after (ms): entering counts as a heartbeat
-- ARGV[4] a fresh random generation (1 … 2^52), kept only if the line has none
-- ARGV[5] rejoin grace (ms): how long a skipped token may come back
-- ARGV[6 …] the user ids, in arrival order (at least one)
--
-- Every argument is checked before the first write: a Redis script is not
-- rolled back when it fails half-way, so a bad batch must fail whole, having
-- changed nothing.
--
-- Returns two integers for the whole run, then six per user, in the order of
-- the users:
--   {opens_at_ms, gen, then per user created, seq, issued_second, position,
--    active_until_ms, status}
-- (what is the same for every user of a run is answered once: each integer
-- of the answer costs Redis a few hundred instructions to convert)
--   created        1 for a new token, 0 when the live token is returned again
--   position       1-based place among waiting users, 0 when active or in the pre-queue;
--                  1 for a skipped token that comes back (it goes first)
--   active_until   0 unless active
--   status         0 waiting, 1 active, 2 pre-queue, 3 sold out (nothing else is set)
--   opens_at_ms    the scheduled open, 0 when none (or sold out)
--   gen            the line's generation, which the token carries: a Redis
--                  that lost the line (restarted empty, flushed) starts a new
--                  one, so tokens of the lost line are told apart
-- Order is the arrival sequence (INCR), never wall-clock time, so replicas with
-- skewed clocks cannot reorder the line; whether an arrival is in the
-- pre-queue is decided by the queue's phase here, inside Redis, so every
-- replica agrees.
-- A user whom admission skipped as silent and who enters again within the
-- grace gets the skipped token back, rejoined ahead of the line, exactly as
-- if it had polled: a second token would be a second place in line, and
-- both would be admitted.

local waiting, active, active_users, seqkey, timeline = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local q, prequeue, heartbeats = KEYS[6], KEYS[7], KEYS[8]
local skipped, rejoined, skipped_users = KEYS[9], KEYS[10], KEYS[11]

local function number(i, name)
  local v = tonumber(ARGV[i])
  if not v then error('enter: ' .. name .. ' (ARGV[' .. i .. ']) is not a number') end
  return v
end
local now = number(1, 'now')
local token_ttl = number(2, 'token ttl')
local alive_until = now + number(3, 'abandon after')
number(4, 'generation')
local grace = number(5, 'rejoin grace')
if #ARGV < 6 then error('enter: no user given') end
for i = 6, #ARGV do
  if ARGV[i] == '' then error('enter: empty user id (ARGV[' .. i .. '])') end
end

-- Nothing is written above this line.
-- The sale's state is the same for the whole batch: only admission and the
-- admin scripts change it, and they cannot run inside this one.
local st = redis.call('HMGET', q, 'sold_out', 'phase', 'opens_at_ms', 'open_seq', 'open_ms', 'gen')
local gen = tonumber(st[6])
if not gen then
  -- The generation goes as it came: a Lua number would be written in 14 digits.
  redis.call('HSET', q, 'gen', ARGV[4])
  gen = tonumber(ARGV[4])
end
local sold_out = st[1] == '1'
local phase = st[2] or ''
local opens_at = tonumber(st[3]) or 0
local open_seq = tonumber(st[4]) or 0
local open_ms = tonumber(st[5]) or 0

-- The newest issue second of the timeline, read once and then kept up to
-- date by the new entries of this batch.
local newest = false

-- A new user costs one call of its own (ZADD NX waiting), not nine: what a
-- batch needs for each user or many times is read once (its users' active
-- tokens by one HMGET) and kept here, and what it writes for every new user
-- is written once at the end. Each redis.call costs about a microsecond in
-- itself, more than most of the commands it runs.
-- The pre-queue and the skipped tokens are empty outside a scheduled sale
-- and a line with leavers: then no user needs looking up in them.
local has_prequeue = redis.call('EXISTS', prequeue) == 1
local has_skipped = redis.call('EXISTS', skipped_users) == 1
-- The arrival sequence, read at the first new entry and counted here.
local last_seq = false
-- The line's length, read at the first new entry and counted here; a
-- removal from the line forgets it.
local card = false
-- The heartbeats of the new entries, written in one HSET at the end. A user
-- entered twice in one batch finds the first entry in the line and its
-- heartbeat pending, which is as fresh as any it could get.
local new_beats = {}
-- Numbers go to Redis as text made here: a Lua number passed to redis.call
-- is printed with sprintf's %.17g at each call (callgrind: a tenth of Redis'
-- instructions per entry).
local alive_text = string.format('%d', alive_until)

-- The issue second of a sequence: the newest timeline entry at or before it.
local function issued_of(seq)
  local hit = redis.call('ZREVRANGEBYSCORE', timeline, seq, '-inf', 'LIMIT', 0, 1)
  if #hit == 0 then return nil end
  return tonumber(hit[1])
end

-- A new sign of life for a user already in line.
local function beat(user)
  local old = tonumber(redis.call('HGET', heartbeats, user))
  if old and old < alive_until then redis.call('HSET', heartbeats, user, alive_text) end
end

-- The sequence a new entry would take (taken only by took).
local function next_seq()
  if last_seq == false then last_seq = tonumber(redis.call('GET', seqkey)) or 0 end
  return last_seq + 1
end

-- took records that user took seq, the next sequence, now: the arrival
-- count, the issue-second timeline and the user's first heartbeat. Returns
-- the issue second.
local function took(user, seq)
  last_seq = seq
  local sec = math.floor(now / 1000)
  if newest == false then
    local last = redis.call('ZREVRANGE', timeline, 0, 0)
    newest = #last > 0 and tonumber(last[1]) or nil
  end
  if newest and newest >= sec then
    -- Same second (or a replica whose clock is behind): keep issue times monotonic.
    sec = newest
  else
    redis.call('ZADD', timeline, seq, sec)
    newest = sec
  end
  new_beats[#new_beats + 1] = user
  new_beats[#new_beats + 1] = alive_text
  return sec
end

-- Each user's active token, looked up for the whole batch by one HMGET
-- (by the place of the user in ARGV): nothing in a batch admits anyone, so
-- only the batch's own HDELs change the answers, and those users are noted.
local active_seqs = {}
local deactivated = {}
if not sold_out then active_seqs = redis.call('HMGET', active_users, unpack(ARGV, 6)) end

local function enter(user, at)
  if sold_out then return 0, 0, 0, 0, 0, 3 end

  local aseq = not deactivated[user] and active_seqs[at]
  if aseq then
    local until_ms = redis.call('ZSCORE', active, aseq .. ':' .. user)
    local pre = redis.call('HGET', prequeue, user)
    local issued
    if pre and string.sub(pre, 1, #aseq + 1) == aseq .. ':' then
      issued = tonumber(string.sub(pre, #aseq + 2))
    else
      issued = issued_of(tonumber(aseq))
    end
    if until_ms and tonumber(until_ms) > now and issued then
      return 0, tonumber(aseq), issued, 0, tonumber(until_ms), 1
    end
    redis.call('HDEL', active_users, user)
    deactivated[user] = true
  end

  local sk = has_skipped and redis.call('HGET', skipped_users, user)
  if sk then
    local a = string.find(sk, ':', 1, true)
    local b = string.find(sk, ':', a + 1, true)
    local kseq, issued, expires = string.sub(sk, 1, a - 1), tonumber(string.sub(sk, a + 1, b - 1)),
      tonumber(string.sub(sk, b + 1))
    local member = kseq .. ':' .. user
    if redis.call('ZSCORE', rejoined, member) then
      return 0, tonumber(kseq), issued, 1, 0, 0
    end
    local at = tonumber(redis.call('ZSCORE', skipped, member))
    if at and at + grace >= now and expires > now then
      redis.call('ZREM', skipped, member)
      redis.call('ZADD', rejoined, 'NX', now, member)
      return 0, tonumber(kseq), issued, 1, 0, 0
    end
    -- Past the grace (or the token's life): the skip is over, start afresh.
    if at then redis.call('ZREM', skipped, member) end
    redis.call('HDEL', skipped_users, user)
  end

  local pre = has_prequeue and redis.call('HGET', prequeue, user)
  if pre then
    local sep = string.find(pre, ':', 1, true)
    local pseq, issued = tonumber(string.sub(pre, 1, sep - 1)), tonumber(string.sub(pre, sep + 1))
    if phase == 'scheduled' or phase == 'placing' then
      beat(user)
      return 0, pseq, issued, 0, 0, 2
    end
    local place = tonumber(redis.call('ZSCORE', waiting, user))
    if place and place <= open_seq and open_ms + token_ttl > now then
      beat(user)
      return 0, pseq, issued, redis.call('ZRANK', waiting, user) + 1, 0, 0
    end
    -- Admitted and lapsed, skipped, or expired: this user starts again at the back.
    if place and place <= open_seq then
      redis.call('ZREM', waiting, user)
      card = false
    end
    redis.call('HDEL', prequeue, user)
  end

  -- Most arrivals are new: one ZADD NX both finds that the user has no
  -- place in line and takes the next one. A user who has a place keeps it
  -- (NX), and is then looked up as below.
  if phase ~= 'scheduled' then
    local seq = next_seq()
    if redis.call('ZADD', waiting, 'NX', string.format('%d', seq), user) == 1 then
      local sec = took(user, seq)
      if card == false then card = redis.call('ZCARD', waiting) else card = card + 1 end
      return 1, seq, sec, card, 0, 0
    end
  end

  local wseq = redis.call('ZSCORE', waiting, user)
  if wseq then
    wseq = tonumber(wseq)
    local issued = issued_of(wseq)
    if issued and issued * 1000 + token_ttl > now then
      beat(user)
      return 0, wseq, issued, redis.call('ZRANK', waiting, user) + 1, 0, 0
    end
    -- Expired while waiting: the user starts again at the back of the line.
    redis.call('ZREM', waiting, user)
    card = false
  end

  local seq = next_seq()
  if phase == 'scheduled' then
    local sec = took(user, seq)
    redis.call('HSET', prequeue, user, string.format('%d:%d', seq, sec))
    has_prequeue = true
    return 1, seq, sec, 0, 0, 2
  end
  redis.call('ZADD', waiting, seq, user)
  local sec = took(user, seq)
  if card == false then card = redis.call('ZCARD', waiting) else card = card + 1 end
  return 1, seq, sec, card, 0, 0
end

local out = {sold_out and 0 or opens_at, gen}
local n = 2
for i = 6, #ARGV do
  out[n + 1], out[n + 2], out[n + 3], out[n + 4], out[n + 5], out[n + 6] = enter(ARGV[i], i - 5)
  n = n + 6
end
if last_seq ~= false then redis.call('SET', seqkey, last_seq) end
if #new_beats > 0 then redis.call('HSET', heartbeats, unpack(new_beats)) end
return out
