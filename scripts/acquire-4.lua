#!lua
--[[
  Takes a ticket for `token`: grants it at once when nobody waits and it fits,
  otherwise (mode q) puts it at the end of the line. Sent again with the same token
  (a resend after a lost reply) it only renews the ticket: one token never holds two.
  Refused as a whole when Redis is out of memory (no allow-oom flag), so it never
  writes half a ticket.

  Input:
    KEYS[1..4]  fence, tickets, waiters, line (see includes/fence.lua)
    ARGV[1] flags   'p' (PUBLISH) or 's' (SPUBLISH), then 'q' (queue if it must wait)
                    or 't' (try: never queue), then maxWaiters ('0': no cap)
    ARGV[2] token   unique per acquisition; carries the weight and permits asked for
    ARGV[3] ttl     ms a holder or waiter stays without a heartbeat

  Output:
    '<fence>'       granted: the fencing token's digits (also when this token already
                    held the lease: its expiry is then pushed to now + ttl), followed by
                    ':<permits>' when a holder asked for other permits than this token
    { position, nextExpiryIn, lastFence, otherPermits }
                    queued; position: 0 is the front (-1 for a resend that is not near
                    it); nextExpiryIn: ms until the earliest lease expires, -1 if none
                    or if the ticket is not near the front; lastFence: the last
                    fencing token granted on the key (digits); otherPermits: as above,
                    or 0
    '!<limit>'      the weight is more than the stored limit: it can never be
                    granted; nothing changed
    -1              try: not free now, others wait, or the semaphore is paused
    -2              the queue is full (maxWaiters); nothing changed
    -4              layout 1 uses the key (see includes/fence.lua); nothing changed
    -6              a newer layout's settings are stored on the key; nothing changed
]]

--@include clock
--@include fence

-- Nobody holds or waits: the uncontended path, four calls in all.
local existing = redis.call('EXISTS', KEYS[2], KEYS[3])
if existing == 0 then
  local fence = nextFence()
  redis.call('ZADD', KEYS[2], string.format('%d', nowMs + ARGV[3]), ARGV[2] .. '|' .. fence)
  return fence
end

--@include tickets

local token = ARGV[2]
local expiry = nowMs + tonumber(ARGV[3])
local weight, permits = shape(token)
local s = { permits = permits }
local refused = readHolders(s, token)
if refused then
  return refused
end

if s.mine then
  return renewMine(s, expiry)
end

-- The limit in force: stored, or else as this caller asked (a Mutex: always its one).
permits = limitOf(s, token, permits)
if weight > permits then
  -- Only a stored limit can be below a weight (the client checks its own permits).
  return '!' .. digits(permits)
end

-- Others hold but nobody waits, and it fits: granted before the line's helpers exist.
-- EXISTS counted `waiters` too: when `tickets` was the one key found, nobody waits.
local n = 0
if existing > (s.tickets and 1 or 0) then
  n = redis.pcall('ZCARD', KEYS[3])
end
if n == 0 and weight <= permits - s.held and not s.paused then
  return grantReply(s, (addHolder(s, token, weight, expiry)))
end

--@include line

if type(n) ~= 'number' then
  resetLine(s)
else
  s.n = n
end
purgeWaiters(s)
if s.n == 0 and weight <= permits - s.held and not s.paused then
  return grantReply(s, (addHolder(s, token, weight, expiry)))
end
if string.sub(ARGV[1], 2, 2) == 't' then
  drain(s, nil)
  return -1
end

local maxWaiters = tonumber(string.sub(ARGV[1], 3))
if maxWaiters > 0 and s.n >= maxWaiters and not redis.call('ZSCORE', KEYS[3], token) then
  return -2
end

local fresh = s.n == 0
local position = s.n
if redis.call('ZADD', KEYS[3], expiry, token) == 1 then
  if type(redis.pcall('RPUSH', KEYS[4], token)) ~= 'number' then
    -- `line` was not a list: the others' order is lost; start over with this one.
    resetLine(s)
    redis.call('ZADD', KEYS[3], expiry, token)
    redis.call('RPUSH', KEYS[4], token)
    position = 0
    fresh = true
  end
  s.n = s.n + 1
else
  -- Already waiting (a resent acquire): its deadline is renewed, its place kept.
  position = nearHead(s, token)
end
keepUntil(expiry, fresh)

-- Expired holders may have freed permits, or this ticket may head the line.
drain(s, token)
if s.granted then
  return grantReply(s, s.granted)
end
return { position, nextExpiryIn(s, position), lastFence(), s.other or 0 }
