-- hold_batch.lua: the hold script. It holds seats for users, atomically: of
-- any number of concurrent holds of one seat, batched or not, exactly one
-- succeeds. It makes many holds of one concert in one run, in the order
-- given, or one alone; each hold is made exactly as it would be alone at its
-- turn (same checks, same writes, same codes).
--
-- KEYS[1] hold_ids    hash    the concert's block of reservation ids: 'id' the
--                     last id handed out, 'last' the last id of the block
-- KEYS[2] hold prefix the record of hold <id> in its own key (ARGV[7] "key")
--                     is KEYS[2] .. id; the prefix carries the concert's hash
--                     tag, so Cluster routes it to the same slot as the other
--                     keys. That record is a string,
--                     "state|lease|exp|price|seat|date|user", written here as
--                     "held||<exp>|<price>|<seat>|<date>|<user>" (PX hold ttl
--                     + record ttl); claim.lua, unclaim.lua and sell.lua
--                     rewrite its state and lease. No field but the last may
--                     hold a '|' (the date is checked here, the others are
--                     numbers or words), so the user id, last, may be
--                     anything.
-- then, for each hold in turn, the keys it is the first of the run to need
-- (each key comes once, at the first hold that uses it, however many holds
-- of the run share it):
--   seat        string  the seat lock: the hold id while held (PX hold ttl),
--                       "sold" once sold (sell.lua, load_sold.lua), until
--                       some days after the date;
--                       every hold's own
--   held        zset    seat number -> hold expiry (ms), per date } at the first
--   loaded      string  the lock of seat 0 (no seat has that      } hold of
--                       number): "loaded" once every sold seat of } its date
--                       the date has its lock set to "sold"       }
--                       (load_sold.lua)
--   user_holds  zset    the user's unpaid holds, at the first hold of its
--                       user: member -> expiry (ms). A member is a hold id
--                       (its record in its own key) or, with ARGV[7] "set",
--                       the record itself, "<id>|held||<exp>|<price>|<seat>|
--                       <date>" (the record's form without the user, whose
--                       set this is, and with the id first); claim.lua
--                       copies it to a key of its own, where unclaim.lua and
--                       sell.lua find it, and scores it with the claim's
--                       end. A lapsed record is kept record ttl after its
--                       expiry, so that paying it is "expired", not "not
--                       found".
--   gate        zset    at the first hold with a gate member, shared by all
--                       of them: a hold with a member is made only if the
--                       member has a score above now (the caller passes its
--                       admission, so checking it and holding are one atomic
--                       step); the run reads every member's score with one
--                       ZMSCORE
-- then, optionally, one last key:
--   stock       hash    the concert's seat count kept for admission
--               (count_seats.lua): while it exists, its "held" grows by the
--               holds made, so that admission pauses at once when the last
--               free seat is held, without counting again
-- ARGV[1] now (unix ms)
-- ARGV[2] hold ttl (ms)
-- ARGV[3] most live unpaid holds a user may have
-- ARGV[4] record ttl (ms): the record outlives the seat lock by this much, so
--         paying a lapsed hold is "expired", not "not found"
-- ARGV[5], ARGV[6] "" and "", or the first and last id of a block Go has
--          just reserved in Postgres: installed at most once, only when the
--          concert's block is used up or missing (e.g. lost with Redis) at
--          the turn of a hold that needs an id
-- ARGV[7] where a hold's record goes: "set", the member of the user's set of
--         holds (one write per hold: a record in a key of its own was a
--         sixth of Redis' instructions per hold, callgrind), or "key", a key
--         of its own, which versions before the set form read (so that a
--         rolling upgrade can keep writing it until every replica reads both)
-- then, for each hold, 6 values: user id, date (YYYY-MM-DD: a '|' is a bad
--   argument), seat number and price (whole won), each in digits, "1" when
--   Go has just rebuilt the sold cache and found the seat unsold in Postgres
--   (the "loaded" lock is then not required: Redis may have lost it
--   again meanwhile) else "0", gate member ("" when none)
-- A sold seat is found by its lock alone: the SET NX that takes a free seat
-- answers, with GET, what holds a taken one ("sold" or a hold id), so a hold
-- makes one call for its seat, not a read of the sold cache and then a SET
-- (a call from a script costs Redis about a microsecond more than the command
-- itself takes).
-- A key is sent once per run, not once per hold that uses it: each argument
-- costs Redis about 1,100 instructions to take in (callgrind), and the holds
-- of a run mostly share their date, gate and, for a fan taking several
-- seats, user.
--
-- Returns {code, id, expires_ms} for each hold run, in order:
--   code  1 held
--        -1 seat held by someone else
--        -2 seat sold
--        -3 the user already holds ARGV[3] live seats
--        -4 the sold seats of the date have not been loaded into their locks
--           (no "loaded" lock of seat 0): Go rebuilds the sold cache, retries
--        -5 the id block is used up or missing and none was given (or the
--           given one is already installed and used up): Go reserves one in
--           Postgres and retries with it
--        -6 the gate is closed
--        -7 a Redis call of the hold failed; the error text is in place of
--           the id
-- A hold answered -4 or -5 ends the run: it and the holds after it are not
-- run and changed nothing, so Go settles that hold and sends the rest again,
-- in order.
--
-- Every argument is checked before anything is written, so a batch with a
-- bad argument fails whole and changes nothing. A write refused because this
-- node is a replica (READONLY: a failover moved the primary) fails the whole
-- run as well, with that error, so the caller sees an outage: on a replica
-- nothing of the run was written.

local ids_key, prefix = KEYS[1], KEYS[2]
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local max_holds = tonumber(ARGV[3])
local record_ttl = tonumber(ARGV[4])
local new_first, new_last = ARGV[5], ARGV[6]
local in_set = ARGV[7] == 'set'

local n = (#ARGV - 7) / 6
if not (now and ttl and max_holds and record_ttl) or n < 1 or n % 1 ~= 0
    or not (in_set or ARGV[7] == 'key') then
  return redis.error_reply('ERR hold_batch: bad arguments')
end
-- The checks of each hold take no tonumber, which runs strtod twice on a
-- string: with it they were 4% of Redis' instructions per hold (callgrind).
-- Seat and price are whole numbers in digits, as Go formats them.
-- The same pass finds each hold's keys: its seat lock by its place, the
-- others by its date and user.
local find = string.find
local seat_keys, held_of, loaded_key_of, holds_of = {}, {}, {}, {}
local gate_key
-- the gate members of the run, each once, in order
local members, gate_seen = {}, {}
local k = 3
for i = 1, n do
  local a = 2 + 6 * i
  local user, date = ARGV[a], ARGV[a + 1]
  if not find(ARGV[a + 2], '^%d+$') or not find(ARGV[a + 3], '^%d+$')
      or find(date, '|', 1, true) then
    return redis.error_reply('ERR hold_batch: bad arguments of hold ' .. i)
  end
  seat_keys[i] = KEYS[k]
  k = k + 1
  if not held_of[date] then
    held_of[date], loaded_key_of[date] = KEYS[k], KEYS[k + 1]
    k = k + 2
  end
  if not holds_of[user] then
    holds_of[user] = KEYS[k]
    k = k + 1
  end
  local member = ARGV[a + 5]
  if member ~= '' then
    if not gate_key then
      gate_key = KEYS[k]
      k = k + 1
    end
    if not gate_seen[member] then
      gate_seen[member] = true
      members[#members + 1] = member
    end
  end
end
local stock_key
if k == #KEYS then
  stock_key = KEYS[k]
elseif k ~= #KEYS + 1 then
  return redis.error_reply('ERR hold_batch: keys do not match the holds')
end
if new_first ~= '' and not (tonumber(new_first) and tonumber(new_last)) then
  return redis.error_reply('ERR hold_batch: bad block')
end

local offered = new_first ~= ''

-- Every Redis call costs about a microsecond inside the script, and a hold
-- is the hot path of a rush: the success path of a hold makes five calls of
-- its own at most, besides what the run reads once for all its holds (and,
-- every 32nd id, two prunes).
-- What the holds of a run share is read once and written once: the gate
-- (above), the id
-- block (read at the first hold that needs an id, counted here, written back
-- before the run returns) and each date's held set (its new members added
-- in one ZADD at the end: nothing in the run reads it). The user's set of
-- holds is written at once: the next hold of the same user counts it.
-- Each date's "loaded" lock is read once too, by the date's first hold in
-- the run that needs it: nothing in a run deletes it (one lost with Redis is
-- found by the next run), so once read it stays read for the rest of the
-- run. While it is missing it is not kept: that hold answers -4 and ends
-- the run.
local ids_loaded, last_id, block_last, ids_dirty = false, nil, nil, false
-- loaded key -> true once it read "loaded" in this run
local locks_loaded = {}
-- Nothing in a run changes the gate, so every member's admission is read at
-- once, with one ZMSCORE for the run instead of a ZSCORE per buyer (in a
-- rush each buyer has a member of their own: the call was 10,500 of the
-- 92,600 instructions of a hold, callgrind). A gate that cannot be read (a
-- key of the wrong type) is the error of each hold with a member, at its
-- turn, as each ZSCORE's was.
-- gate member -> whether admitted
local admitted_of = {}
local gate_err
if gate_key then
  local ok, scores = pcall(redis.call, 'ZMSCORE', gate_key, unpack(members))
  if ok then
    for i, member in ipairs(members) do
      local score = scores[i]
      admitted_of[member] = score and tonumber(score) > now or false
    end
  else
    gate_err = scores
  end
end
-- A user's holds in one run (a fan taking several seats at once) count the
-- user's live holds once: the count changes only by the run's own holds.
-- user's holds key -> live holds, counted at the user's first hold in the run
local live_holds = {}
-- ZCOUNT's lower bound: holds that lapse after now are live
local live_from = '(' .. now
-- The prune's upper bound for the user's set: a lapsed hold's id goes at
-- once, a lapsed record once its record ttl is over too (until then paying
-- it answers "expired")
local prune_to = in_set and string.format('%d', now - record_ttl) or now
-- user's holds key -> true once the run has set its expiry
local set_life_done = {}
-- The numbers the holds pass to Redis, as text made once per run: a Lua
-- number passed to redis.call is printed with sprintf's %.17g at each call,
-- which was a tenth of Redis' instructions per hold (callgrind).
local exp = now + ttl -- every hold of a run lapses at the same moment
local ttl_text = string.format('%d', ttl)
local exp_text = string.format('%d', exp)
local set_life_text = string.format('%d', ttl + record_ttl)
-- held key -> {score, member, ...} and the answers (their places in out) of
-- the holds that added to it
local held_adds, held_answers, held_keys = {}, {}, {}

local function add_held(key, exp, seat, answer)
  local adds = held_adds[key]
  if not adds then
    adds = {}
    held_adds[key] = adds
    held_answers[key] = {}
    held_keys[#held_keys + 1] = key
  end
  adds[#adds + 1] = exp
  adds[#adds + 1] = seat
  local answers = held_answers[key]
  answers[#answers + 1] = answer
end

-- flush makes the writes the run kept for its end. A date's ZADD that fails
-- (a key of the wrong type) is the error of each hold that added to it,
-- as it would have been had each hold written it itself.
local function flush(out)
  if ids_dirty then
    redis.call('HSET', ids_key, 'id', string.format('%d', last_id), 'last', string.format('%d', block_last))
  end
  for _, key in ipairs(held_keys) do
    local ok, err = pcall(redis.call, 'ZADD', key, unpack(held_adds[key]))
    if not ok then
      if type(err) == 'table' then err = err.err end
      for _, at in ipairs(held_answers[key]) do
        out[at], out[at + 1], out[at + 2] = -7, tostring(err), 0
      end
    end
  end
end

-- hold makes one hold and returns its code, id and expiry.
local function hold(seat_key, held, loaded_key, user_holds, gate, user, date, seat, price, checked, member)
  if gate then
    if gate_err then error(gate_err) end
    if not admitted_of[member] then return -6, 0, 0 end
  end
  -- Sold seats whose locks were never loaded must never read as unsold.
  if not checked and not locks_loaded[loaded_key] then
    if redis.call('GET', loaded_key) ~= 'loaded' then return -4, 0, 0 end
    locks_loaded[loaded_key] = true
  end

  -- Only live holds count; lapsed ones leave by score (no sweeper).
  local live = live_holds[user_holds]
  if not live then
    live = redis.call('ZCOUNT', user_holds, live_from, '+inf')
    live_holds[user_holds] = live
  end
  if live >= max_holds then
    -- A sold seat answers "sold" before the limit, a held one after it.
    if redis.call('GET', seat_key) == 'sold' then return -2, 0, 0 end
    return -3, 0, 0
  end

  -- The id is drawn before the seat is taken, so a lost race burns an id:
  -- ids need to be unique, not dense. An id is only ever taken from a block
  -- Postgres reserved, never from a count Redis could lose and restart.
  if not ids_loaded then
    local block = redis.call('HMGET', ids_key, 'id', 'last')
    last_id, block_last = tonumber(block[1]), tonumber(block[2])
    ids_loaded = true
  end
  -- A sold seat gives its id back (below): the sale was found before the id
  -- was drawn when the sold cache was read first, and ids stay as they were.
  local was_last, was_block_last, was_offered, was_dirty = last_id, block_last, offered, ids_dirty
  local id
  if last_id and block_last and last_id < block_last then
    last_id = last_id + 1
    id = last_id
  elseif offered then
    -- A block serves at most one install, even within one batch.
    offered = false
    last_id, block_last = tonumber(new_first), tonumber(new_last)
    id = last_id
  else
    -- A sold seat is answered before a block is asked for, as when the
    -- sold cache was read first: no block is reserved for it.
    if redis.call('GET', seat_key) == 'sold' then return -2, 0, 0 end
    return -5, 0, 0
  end
  ids_dirty = true
  -- Lua prints numbers from 10^14 on with an exponent: format the key's id.
  local sid = string.format('%d', id)

  local taken = redis.call('SET', seat_key, sid, 'NX', 'PX', ttl_text, 'GET')
  if taken then
    if taken == 'sold' then
      -- Nothing outside this run saw the id: it is drawn again next.
      last_id, block_last, offered, ids_dirty = was_last, was_block_last, was_offered, was_dirty
      return -2, 0, 0
    end
    return -1, 0, 0
  end
  if in_set then
    -- The record is the member (see user_holds for its form).
    redis.call('ZADD', user_holds, exp_text,
      sid .. '|held||' .. exp_text .. '|' .. price .. '|' .. seat .. '|' .. date)
  else
    -- The record and its ttl in one call (see KEYS[2] for its form).
    redis.call('SET', prefix .. sid,
      'held||' .. exp_text .. '|' .. price .. '|' .. seat .. '|' .. date .. '|' .. user,
      'PX', set_life_text)
    redis.call('ZADD', user_holds, exp_text, sid)
  end
  live_holds[user_holds] = live + 1
  -- The set must outlive its live holds, and the records it holds their
  -- record ttl. Without a live hold in it, this hold's expiry + record ttl
  -- is the latest it needs. With one, the set's expiry was set by an
  -- earlier hold (or a claim, whose lease may end after this hold): a record
  -- of this run needs it moved on, never back (GT: the set has an expiry,
  -- set by that earlier hold), once a run, as the run's holds share their
  -- expiry; an id member needs nothing more whenever record ttl is at
  -- least ttl.
  if live == 0 then
    redis.call('PEXPIRE', user_holds, set_life_text)
    set_life_done[user_holds] = true
  elseif (in_set or ttl > record_ttl) and not set_life_done[user_holds] then
    redis.call('PEXPIRE', user_holds, set_life_text, 'GT')
    set_life_done[user_holds] = true
  end
  -- Lapsed entries are skipped by score everywhere; prune them now and
  -- then so the sets do not grow.
  if id % 32 == 0 then
    -- (this hold's own seat is added at the end, with its expiry after now)
    redis.call('ZREMRANGEBYSCORE', held, '-inf', now)
    redis.call('ZREMRANGEBYSCORE', user_holds, '-inf', prune_to)
  end
  return 1, id, exp
end

local out = {}
for i = 1, n do
  local a = 2 + 6 * i
  local user, date, seat, member = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 5]
  local held = held_of[date]
  local gate = member ~= '' and gate_key
  -- A Redis error (a key of the wrong type) ends this hold as it would end
  -- the hold alone, with whatever it wrote before, and is its answer alone:
  -- the holds before it keep theirs and those after it still run.
  local ok, code, id, exp = pcall(hold, seat_keys[i], held, loaded_key_of[date], holds_of[user], gate,
    user, date, seat, ARGV[a + 3], ARGV[a + 4] == '1', member)
  if not ok then
    local msg = code
    if type(msg) == 'table' then msg = msg.err end
    msg = tostring(msg)
    -- On a replica the run's first write is refused, so nothing is pending.
    if string.sub(msg, 1, 9) == 'READONLY ' then return redis.error_reply(msg) end
    code, id, exp = -7, msg, 0
  end
  if code == 1 then add_held(held, exp_text, seat, #out + 1) end
  out[#out + 1] = code
  out[#out + 1] = id
  out[#out + 1] = exp
  if code == -4 or code == -5 then break end
end
flush(out)
if stock_key then
  local made = 0
  for i = 1, #out, 3 do
    if out[i] == 1 then made = made + 1 end
  end
  -- Only a kept count is updated: HINCRBY would make a missing one, with
  -- no expiry and no count behind it.
  if made > 0 and redis.call('PTTL', stock_key) > 0 then
    redis.call('HINCRBY', stock_key, 'held', made)
  end
end
return out
