#!lua flags=allow-oom
--[[
  A waiter's heartbeat and re-check: keeps its place for another ttl and says where it
  stands. It never queues anybody, so it may run when Redis is out of memory: waiters
  keep their place, and are granted, while new acquires are refused.

  Input:
    KEYS[1..4]  fence, tickets, waiters, line (see includes/fence.lua)
    ARGV[1] flags   'p' (PUBLISH) or 's' (SPUBLISH)
    ARGV[2] token
    ARGV[3] ttl     ms from now until the ticket is dropped without another heartbeat

  Output:
    '<fence>'       granted (now, or earlier without the message arriving); the
                    lease's expiry is pushed to now + ttl; ':<permits>' may follow, as
                    in acquire-4.lua
    { position, nextExpiryIn, lastFence, otherPermits }
                    still waiting, as acquire-4.lua replies
    -3              the ticket is gone (evicted after its deadline passed, taken out
                    because it can never fit a stored limit, or never there): queue
                    again, under a new token
    -4              layout 1 uses the key
    -6              a newer layout's settings are stored on the key
]]

--@include clock
--@include fence
--@include tickets
--@include line

local token = ARGV[2]
local expiry = nowMs + tonumber(ARGV[3])
local _, permits = shape(token)
local s = { permits = permits }
local refused = readHolders(s, token)
if refused then
  return refused
end

if s.mine then
  return renewMine(s, expiry)
end

countWaiters(s)
purgeWaiters(s)
if s.n == 0 or not redis.call('ZSCORE', KEYS[3], token) then
  drain(s, nil)
  return -3
end
redis.call('ZADD', KEYS[3], expiry, token)
keepUntil(expiry, false)

drain(s, token)
if s.granted then
  return grantReply(s, s.granted)
end
local position = nearHead(s, token)
return { position, nextExpiryIn(s, position), lastFence(), s.other or 0 }
