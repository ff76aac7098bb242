#!lua flags=allow-oom
--[[
  A holder's refresh, an extension, or a read of how long a lease has left: makes
  the lease expire no sooner than now + ms on the server clock, and says when it
  expires. It never moves an expiry earlier, so a lease extended for an hour keeps
  its hour through the automatic refreshes of whoever holds a handle on it. ms = 0
  only reads.

  A lease whose expiry has passed is gone, even while its entry is still in
  `tickets` (nobody has called on the key since): no handle can bring it back, so a
  lease is never held past the end of its term. It never grows the data, so it runs
  even when Redis is out of memory: leases are kept while new acquires fail.
  Permits of holders that died are handed on by the waiters' own calls (they
  re-check when the earliest lease expires).

  Input:
    KEYS[1..4]  fence, tickets, waiters, line (see includes/fence.lua)
    ARGV[1] flags   'p' or 's', as every script takes them (includes/fence.lua); a
                    refresh grants nobody, so it announces nothing
    ARGV[2] holder  the lease's entry: '<token>|<fencing token>'
    ARGV[3] ms      the lease is to be held at least this many ms from now; 0 reads

  Output:
    n >= 1   held: ms until it expires now
    -1       the lease is gone (released, expired, or Redis lost it)
]]

--@include clock

local holder = ARGV[2]
-- pcall: if `tickets` is not a sorted set, it holds no lease of this layout.
local expiry = tonumber(redis.pcall('ZSCORE', KEYS[2], holder))
-- Expired at or before now, as every eviction counts it (includes/tickets.lua).
if not expiry or expiry <= nowMs then
  return -1
end
local wanted = nowMs + tonumber(ARGV[3])
if wanted > expiry then
  redis.call('ZADD', KEYS[2], 'XX', string.format('%d', wanted), holder)
  return wanted - nowMs
end
return expiry - nowMs
