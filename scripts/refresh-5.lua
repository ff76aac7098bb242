--[[
  A holder's heartbeat: pushes its lease expiry to now + ttl on the server clock.

  Input:
    KEYS[1..5] holders, queue, deadlines, tickets, fence (see includes/queue.lua)
    ARGV[1] token
    ARGV[2] ttl            ms from now until the lease expires
    ARGV[3] permits        permits of the semaphore, if no acquire has stored them
    ARGV[4] channelPrefix  inbox channels are channelPrefix .. inbox
    ARGV[5] publish        PUBLISH, or SPUBLISH in a cluster

  Output:
    1    refreshed
    0    the lease is gone (expired, released, or Redis lost it)
]]
--@include queue

local token = ARGV[1]
local ttl = tonumber(ARGV[2])

local s = load(ARGV[3], ttl, false, ARGV[4], ARGV[5])
purge(s)

local result = 0
if redis.call('ZSCORE', KEYS[1], token) then
  redis.call('ZADD', KEYS[1], fmt(s.nowMs + ttl), token)
  touched(s)
  result = 1
end

-- Purging may have evicted a dead holder: hand its permits on now.
drain(s, nil)
finish(s)
return result
