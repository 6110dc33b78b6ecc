-- release.lua: free the active slot of a token (after a payment), so the next
-- in line can be admitted and the token can no longer be used.
--
-- KEYS[1] active        zset  "<seq>:<user>" -> admission lapse (ms)
-- KEYS[2] active_users  hash  user -> seq of their active token
-- ARGV[1] seq
-- ARGV[2] user
--
-- Returns 1 when the token was active, 0 when it was not.

local removed = redis.call('ZREM', KEYS[1], ARGV[1] .. ':' .. ARGV[2])
if redis.call('HGET', KEYS[2], ARGV[2]) == ARGV[1] then
  redis.call('HDEL', KEYS[2], ARGV[2])
end
return removed
