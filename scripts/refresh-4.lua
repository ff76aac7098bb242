#!lua flags=allow-oom
--[[
  A holder's heartbeat: pushes its lease's expiry to now + ttl on the server clock.
  Then hands on the permits of holders that died, if any. It never grows the data, so
  it runs even when Redis is out of memory: leases are kept while new acquires fail.

  Input:
    KEYS[1..4]  fence, tickets, waiters, line (see includes/fence.lua)
    ARGV[1] holder  the lease's entry: '<token>|<fencing token>'
    ARGV[2] ttl     ms from now until the lease expires
    ARGV[3] flags   'p' (PUBLISH) or 's' (SPUBLISH)

  Output:
    1    refreshed
    0    the lease is gone (expired, released, or Redis lost it)
]]

local t = redis.call('TIME')
local nowMs = t[1] * 1000 + math.floor(t[2] / 1000)

--@include fence
--@include tickets
--@include line

local holder = ARGV[1]
local s = { publish = ARGV[3] == 's' and 'SPUBLISH' or 'PUBLISH' }
if not readHolders(s) then
  return 0
end
local token = string.match(holder, '^(.*)|') or holder
local _, permits = shape(token)
s.permits = permits

local result = 0
if s.holders[token] == holder then
  redis.call('ZADD', KEYS[2], 'XX', nowMs + tonumber(ARGV[2]), holder)
  result = 1
end

-- A dead holder's permits, or any still free, go to the line now.
if s.freed or s.held < s.permits then
  countWaiters(s)
  drain(s, nil)
end
return result
