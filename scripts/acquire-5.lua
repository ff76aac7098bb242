--[[
  Takes a ticket for `token`: grants it at once when nobody waits and its weight
  fits, otherwise (mode 1) puts it at the tail of the FIFO queue. Calling it again
  with the same token is a waiter's heartbeat and re-check, and makes a resent
  command (after a lost reply) harmless: one token never holds two tickets.

  Input:
    KEYS[1..5] holders, queue, deadlines, tickets, fence (see includes/queue.lua)
    ARGV[1] token          unique per acquisition
    ARGV[2] weight         permits this acquisition needs (1..permits)
    ARGV[3] permits        permits of the semaphore (stored; other scripts grant by it)
    ARGV[4] ttl            ms a holder or waiter stays without refreshing
    ARGV[5] mode           0 = try (never queue), 1 = queue if it must wait
    ARGV[6] inbox          id of the caller's wake-up channel
    ARGV[7] channelPrefix  inbox channels are channelPrefix .. inbox
    ARGV[8] publish        PUBLISH, or SPUBLISH in a cluster
    ARGV[9] maxWaiters     a new ticket is refused once this many wait (0: no cap)

  Output:
    { 1, fence }                      granted (or already held by this token, whose
                                      expiry is then pushed to now + ttl)
    { 0, position, nextExpiryIn, lastFence }
                                      queued; position 0 is the head;
                                      nextExpiryIn = ms until the earliest holder
                                      expires, -1 if none or if position >= permits;
                                      lastFence = the last
                                      fencing token granted on the key
    { -1 }                            mode 0 only: not free now, or others wait
    { -2, waiting }                   the queue is full (maxWaiters); nothing changed
]]
--@include queue

local token = ARGV[1]
local weight = tonumber(ARGV[2])
local ttl = tonumber(ARGV[4])
local mode = ARGV[5]
local inbox = ARGV[6]
local maxWaiters = tonumber(ARGV[9])

local s = load(ARGV[3], ttl, true, ARGV[7], ARGV[8])
-- An acquire always stores its permits and ttl (finish() writes them).
touched(s)
purge(s)

-- With nobody holding or waiting there is no ticket to find: skip the lookup.
local existing = (s.held > 0 or s.queued > 0) and redis.call('HGET', KEYS[4], token)
local result
if existing then
  local _, _, _, fence = parseTicket(existing)
  if fence > 0 then
    -- Already granted (a resend, or a re-check that missed the message): the caller
    -- counts the lease's ttl from this call, so Redis must too.
    redis.call('ZADD', KEYS[1], 'XX', fmt(s.nowMs + ttl), token)
    touched(s)
    result = { 1, fence }
  else
    -- A waiter's heartbeat: its place is kept for another ttl.
    redis.call('ZADD', KEYS[3], 'XX', fmt(s.nowMs + ttl), token)
    touched(s)
  end
elseif s.queued == 0 and s.held + weight <= s.permits then
  result = { 1, grant(s, token, weight, ttl, inbox, false) }
elseif mode == '0' then
  result = { -1 }
elseif maxWaiters > 0 and s.queued >= maxWaiters then
  result = { -2, s.queued }
else
  enqueue(s, token, weight, ttl, inbox)
end

-- Purging may have freed permits, or this call may have made its ticket the head:
-- hand out what is free now, whatever this call's own outcome.
drain(s, token)
if not result then
  local fence = s.granted[token]
  if fence then
    result = { 1, fence }
  else
    -- The last fencing token so far: a grant message with a token no higher than it
    -- predates this call, so it is stale (the grant expired before we got here).
    local lastFence = s.fence or tonumber(redis.call('GET', KEYS[5]) or '0')
    local position = redis.call('ZRANK', KEYS[2], token)
    result = { 0, position, nextExpiryIn(s, position), lastFence }
  end
end
finish(s)
return result
