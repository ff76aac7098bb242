#!lua flags=allow-oom
--[[
  A holder's heartbeat: pushes its lease's expiry to now + ttl on the server clock.
  An entry still in `tickets` is the caller's to renew even if its expiry just
  passed: every call that could have handed its permits on would have removed it
  first. It never grows the data, so it runs even when Redis is out of memory: leases
  are kept while new acquires fail. Permits of holders that died are handed on by
  the waiters' own calls (they re-check when the earliest lease expires).

  Input:
    KEYS[1..4]  fence, tickets, waiters, line (see includes/fence.lua)
    ARGV[1] holder  the lease's entry: '<token>|<fencing token>'
    ARGV[2] ttl     ms from now until the lease expires
    ARGV[3] flags   'p' (PUBLISH) or 's' (SPUBLISH); unused, as every script takes it

  Output:
    1    refreshed
    0    the lease is gone (released, evicted after its expiry, or Redis lost it)
]]

local t = redis.call('TIME')
local expiry = string.format('%d', t[1] * 1000 + math.floor(t[2] / 1000) + ARGV[2])
local changed = redis.pcall('ZADD', KEYS[2], 'XX', 'CH', expiry, ARGV[1])
if changed == 1 then
  return 1
end
-- Nothing changed: the same expiry as a refresh within the same ms, or no such entry
-- (or `tickets` is not a sorted set: then it holds no lease of this layout).
if changed == 0 and redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  return 1
end
return 0
