-- claim.lua: claim a hold for payment. While claimed the hold can neither
-- lapse nor be claimed again: the seat lock, the held score and the user's
-- hold slot are kept until max(expiry, now + lease). The lease bounds how long
-- a crashed payment can keep a seat.
--
-- KEYS[1] record      string  "state|lease|exp|price|seat|date|user" (see
--                             hold_batch.lua); a record made by an older
--                             version may be a hash of those fields, and is
--                             kept a hash. When the key is missing, the
--                             record may be the member of the user's set
--                             (KEYS[4], which must be the claiming user's)
--                             that starts with the id and '|': a claim
--                             copies it here, so that unclaim.lua and
--                             sell.lua find every claimed record by its key
-- KEYS[2] seat        string  the seat lock (the hold id while held)
-- KEYS[3] held        zset    seat number -> expiry (ms), per date
-- KEYS[4] user_holds  zset    hold id, or the hold's record
--                             "<id>|state|lease|exp|price|seat|date", ->
--                             expiry (ms)
-- ARGV[1] hold id
-- ARGV[2] user id
-- ARGV[3] now (unix ms)
-- ARGV[4] lease (ms)
-- ARGV[5] record ttl (ms) kept after the lease ends
--
-- Returns {code, expires_ms}
--   code  1 claimed
--        -1 no such hold, or another user's
--        -2 the hold lapsed (or a previous claim's lease ran out)
--        -3 already paid
--        -4 claimed by a payment still running
-- A string record that is not of that form is an error, before any write.

local rec, seat_key, held, user_holds = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, user = ARGV[1], ARGV[2]
local now, lease, record_ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])

-- f: user, state, exp, lease, seat. r: the string record's fields in their
-- order, nil for a hash record (or none).
-- member: the record's member of the user's set, when it is one.
local f, r, member
local kind = redis.call('TYPE', rec)['ok']
if kind == 'string' then
  r = {string.match(redis.call('GET', rec), '^(%l+)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$')}
  if not r[1] then return redis.error_reply('ERR claim: bad hold record') end
  f = {r[7], r[1], r[3], r[2], r[5]}
elseif kind == 'none' then
  -- The set is the user's, so a record found in it is theirs.
  local head = id .. '|'
  for _, m in ipairs(redis.call('ZRANGE', user_holds, 0, -1)) do
    if string.sub(m, 1, #head) == head then
      member = m
      break
    end
  end
  if not member then return {-1, 0} end
  r = {string.match(member, '^[^|]*|(%l+)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$')}
  if not r[1] then return redis.error_reply('ERR claim: bad hold record') end
  -- A record in a key of its own lives record ttl past its expiry; one in
  -- the set stays until a prune, but is gone as soon.
  if tonumber(r[3]) + record_ttl <= now then return {-1, 0} end
  r[7] = user
  f = {user, r[1], r[3], r[2], r[5]}
else
  f = redis.call('HMGET', rec, 'user', 'state', 'exp', 'lease', 'seat')
end
if not f[1] or f[1] ~= user then return {-1, 0} end
local exp = tonumber(f[3])
if f[2] == 'paid' then return {-3, exp} end
if f[2] == 'claimed' then
  if tonumber(f[4]) > now then return {-4, exp} end
  return {-2, exp}
end
-- The lock may have lapsed on the server's clock (or been taken since): then
-- the hold is gone whatever the record says.
if exp <= now or redis.call('GET', seat_key) ~= id then return {-2, exp} end

local hold_until = math.max(exp, now + lease)
if r then
  r[1], r[2] = 'claimed', string.format('%d', hold_until)
  redis.call('SET', rec, table.concat(r, '|'), 'PX', hold_until - now + record_ttl)
else
  redis.call('HSET', rec, 'state', 'claimed', 'lease', hold_until)
  redis.call('PEXPIRE', rec, hold_until - now + record_ttl)
end
redis.call('PEXPIRE', seat_key, hold_until - now)
redis.call('ZADD', held, hold_until, f[5])
-- A record from the set stays there, scored with the claim's end so that it
-- counts as live, while its claimed state is in its own key, which every
-- reader looks at first; unclaim.lua puts it back as it was, so a payment
-- that fails changes nothing.
redis.call('ZADD', user_holds, hold_until, member or id)
if redis.call('PTTL', user_holds) < hold_until - now + record_ttl then
  redis.call('PEXPIRE', user_holds, hold_until - now + record_ttl)
end
return {1, exp}
