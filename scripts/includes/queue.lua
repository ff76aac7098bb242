--[[
  Shared helpers for every semaphore script. Inlined by the loader (src/scripts.ts)
  where a script says `--@include queue`; never run on its own.

  Every caller passes the same five keys, all sharing one hash tag:
    KEYS[1] holders    sorted set: token -> lease expiry (ms, server clock)
    KEYS[2] queue      sorted set: token -> arrival number (FIFO order)
    KEYS[3] deadlines  sorted set: token -> waiter expiry (ms, server clock)
    KEYS[4] tickets    hash: token -> "weight:ttl:inbox:fence:grantedAt" (fence and
                       grantedAt are 0 while waiting), plus "#held" (total weight
                       held), "#seq" (arrival counter) and "#permits" (the permits
                       the latest acquire passed)
    KEYS[5] fence      string: the last fencing token granted (never expires)
]]

-- Bounds the work one call spends on expired entries, so no call blocks Redis
-- for long however many dead entries pile up; the rest go on the next call.
local PURGE_BATCH = 100

-- Lua's tostring() keeps 14 digits; microsecond timestamps have 16.
local function fmt(n)
  return string.format('%.0f', n)
end

local function serverNow()
  local t = redis.call('TIME')
  local sec, usec = tonumber(t[1]), tonumber(t[2])
  return sec * 1000 + math.floor(usec / 1000), sec * 1000000 + usec
end

local function parseTicket(raw)
  local weight, ttl, inbox, fence, grantedAt = string.match(raw, '^(%d+):(%d+):([^:]*):(%d+):(%d+)$')
  return tonumber(weight), tonumber(ttl), inbox, tonumber(fence), tonumber(grantedAt)
end

local function ticket(weight, ttl, inbox, fence, grantedAt)
  return weight .. ':' .. ttl .. ':' .. inbox .. ':' .. fmt(fence) .. ':' .. fmt(grantedAt)
end

-- Only acquires set the permit count; every other caller (release, refresh, status,
-- perhaps an operator's tool) grants by it, so a caller that passes a wrong count
-- cannot hand out permits that do not exist.
local function storedPermits(fallback)
  return tonumber(redis.call('HGET', KEYS[4], '#permits') or fallback)
end

local function heldWeight()
  return tonumber(redis.call('HGET', KEYS[4], '#held') or '0')
end

-- Drops a holder and gives its weight back.
local function dropHolder(token)
  local raw = redis.call('HGET', KEYS[4], token)
  if raw then
    local weight = parseTicket(raw)
    redis.call('HINCRBY', KEYS[4], '#held', -weight)
    redis.call('HDEL', KEYS[4], token)
  end
  redis.call('ZREM', KEYS[1], token)
end

local function dropWaiter(token)
  redis.call('ZREM', KEYS[2], token)
  redis.call('ZREM', KEYS[3], token)
  redis.call('HDEL', KEYS[4], token)
end

-- Evicts holders that stopped refreshing and waiters that stopped heartbeating,
-- anywhere in the queue, not only at its head.
local function purge(nowMs)
  local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', nowMs, 'LIMIT', 0, PURGE_BATCH)
  for _, token in ipairs(stale) do
    dropHolder(token)
  end
  stale = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', nowMs, 'LIMIT', 0, PURGE_BATCH)
  for _, token in ipairs(stale) do
    dropWaiter(token)
  end
end

-- Never lower than the server clock in microseconds, so tokens keep rising even
-- when Redis restarts empty or fails over, as long as server clocks do not step back.
local function nextFence(nowUs)
  local last = tonumber(redis.call('GET', KEYS[5]) or '0')
  local fence = nowUs
  if fence <= last then
    fence = last + 1
  end
  redis.call('SET', KEYS[5], fmt(fence))
  return fence
end

-- `queued` is false on the fast path, where the token never entered the queue.
local function grant(token, weight, ttl, inbox, nowMs, nowUs, queued)
  local fence = nextFence(nowUs)
  if queued then
    redis.call('ZREM', KEYS[2], token)
    redis.call('ZREM', KEYS[3], token)
  end
  redis.call('ZADD', KEYS[1], fmt(nowMs + ttl), token)
  redis.call('HINCRBY', KEYS[4], '#held', weight)
  redis.call('HSET', KEYS[4], token, ticket(weight, ttl, inbox, fence, nowMs))
  return fence
end

-- Grants the head of the queue while it fits, and tells each new holder through
-- its process's inbox channel, fencing token included, so no confirm trip is needed.
-- Serving only the head is what makes it fair: a heavy head blocks lighter waiters
-- behind it. Each grant takes at least one permit, so the loop runs at most `permits` times.
-- `quiet` names a token whose caller learns of its grant from the reply instead.
local function drain(permits, channelPrefix, nowMs, nowUs, quiet)
  local held = heldWeight()
  while true do
    local head = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
    if not head then
      return
    end
    local raw = redis.call('HGET', KEYS[4], head)
    if not raw then
      -- A queue entry without a ticket cannot be granted; drop it rather than stall.
      dropWaiter(head)
    else
      local weight, ttl, inbox = parseTicket(raw)
      if held + weight > permits then
        return
      end
      local fence = grant(head, weight, ttl, inbox, nowMs, nowUs, true)
      held = held + weight
      if head ~= quiet then
        redis.call('PUBLISH', channelPrefix .. inbox, head .. ':' .. fmt(fence))
      end
    end
  end
end

-- Keeps every key alive exactly as long as its longest-lived entry, and deletes
-- them all once nobody holds or waits. The fence key is left alone on purpose.
local function touch(nowMs)
  if redis.call('ZCARD', KEYS[1]) == 0 and redis.call('ZCARD', KEYS[2]) == 0 then
    redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
    return
  end
  local latest = nowMs
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]
  if last and tonumber(last) > latest then
    latest = tonumber(last)
  end
  last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')[2]
  if last and tonumber(last) > latest then
    latest = tonumber(last)
  end
  local ms = fmt(latest - nowMs + 1000)
  for i = 1, 4 do
    redis.call('PEXPIRE', KEYS[i], ms)
  end
end

-- Milliseconds until the earliest holder expires (server clock), or -1 if none:
-- a waiter uses it to re-check right when a dead holder's permit comes free.
local function nextExpiryIn(nowMs)
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
  if not first then
    return -1
  end
  return tonumber(first) - nowMs
end
