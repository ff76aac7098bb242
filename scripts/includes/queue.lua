--[[
  Shared helpers for every semaphore script. Inlined by the loader (src/scripts.ts)
  where a script says `--@include queue`; never run on its own.

  Every caller passes the same five keys, all sharing one hash tag:
    KEYS[1] holders    sorted set: token -> lease expiry (ms, server clock)
    KEYS[2] queue      sorted set: token -> arrival number (FIFO order)
    KEYS[3] deadlines  sorted set: token -> waiter expiry (ms, server clock)
    KEYS[4] tickets    hash: token -> "weight:ttl:inbox:fence:grantedAt" (fence and
                       grantedAt are 0 while waiting); and the counters
                       "#held" (total weight held), "#seq" (arrival counter),
                       "#permits" (as the latest acquire passed them) and
                       "#maxttl" (the longest ttl any entry may have)
    KEYS[5] fence      string: the last fencing token granted (never expires)

  Each redis.call costs about a microsecond on top of its command, so the helpers
  read the counters once into a state table, change it in Lua, and write them back,
  with every ticket written on the way, in one HSET in finish().
]]

-- Bounds the work one call spends on expired entries, so no call blocks Redis
-- for long however many dead entries pile up; the rest go on the next call.
local PURGE_BATCH = 100
-- Likewise for grants: a release on a semaphore with thousands of permits hands out at
-- most this many per call; waiters left over are granted by their next heartbeat.
local GRANT_BATCH = 1000
-- unpack() in Redis's Lua takes some 8000 values at most: write tickets in slices.
local HSET_SLICE = 1000

-- Lua's tostring() keeps 14 digits; microsecond timestamps have 16.
local function fmt(n)
  return string.format('%.0f', n)
end

local function parseTicket(raw)
  local weight, ttl, inbox, fence, grantedAt = string.match(raw, '^(%d+):(%d+):([^:]*):(%d+):(%d+)$')
  return tonumber(weight), tonumber(ttl), inbox, tonumber(fence), tonumber(grantedAt)
end

local function ticket(weight, ttl, inbox, fence, grantedAt)
  return weight .. ':' .. ttl .. ':' .. inbox .. ':' .. fmt(fence) .. ':' .. fmt(grantedAt)
end

-- Reads the clock and the counters. `permits` and `ttl` are the caller's; only an
-- acquire stores its permits (storePermits), so a release, refresh or status that
-- passes a wrong count cannot hand out permits that do not exist. Grants are
-- announced with `publish` (PUBLISH, or SPUBLISH in a cluster, so the message stays
-- in the key's shard) on `channelPrefix .. inbox`.
local function load(permits, ttl, storePermits, channelPrefix, publish)
  local t = redis.call('TIME')
  local sec, usec = tonumber(t[1]), tonumber(t[2])
  local c = redis.call('HMGET', KEYS[4], '#held', '#permits', '#maxttl', '#seq')
  local s = {
    nowMs = sec * 1000 + math.floor(usec / 1000),
    nowUs = sec * 1000000 + usec,
    held = tonumber(c[1] or '0'),
    permits = tonumber(c[2] or permits),
    maxTtl = tonumber(c[3] or '0'),
    seq = tonumber(c[4] or '0'),
    queued = redis.call('ZCARD', KEYS[2]),
    fence = nil,
    channelPrefix = channelPrefix,
    publish = publish,
    -- Tickets to write in finish(), token -> ticket; `granted` maps token -> fence.
    pending = {},
    granted = {},
  }
  if storePermits then
    s.permits = tonumber(permits)
  end
  if ttl and ttl > s.maxTtl then
    s.maxTtl = ttl
  end
  return s
end

-- A ticket as this call sees it: written earlier in the call, or already in Redis.
local function readTicket(s, token)
  return s.pending[token] or redis.call('HGET', KEYS[4], token)
end

local function dropTicket(s, token)
  s.dirty = true
  s.pending[token] = nil
  redis.call('HDEL', KEYS[4], token)
end

-- Every write that must outlive the call also sets `s.dirty`, so finish() knows to
-- store the counters and the keys' lifetime.
local function touched(s)
  s.dirty = true
end

-- Drops a holder and gives its weight back. `raw` is its ticket, if already read.
local function dropHolder(s, token, raw)
  raw = raw or readTicket(s, token)
  if raw then
    s.held = s.held - parseTicket(raw)
    dropTicket(s, token)
  end
  redis.call('ZREM', KEYS[1], token)
end

local function dropWaiter(s, token)
  redis.call('ZREM', KEYS[2], token)
  redis.call('ZREM', KEYS[3], token)
  dropTicket(s, token)
  s.queued = s.queued - 1
end

-- Evicts holders that stopped refreshing and waiters that stopped heartbeating,
-- anywhere in the queue, not only at its head.
local function purge(s)
  local stale
  if s.held > 0 then
    stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', s.nowMs, 'LIMIT', 0, PURGE_BATCH)
    for _, token in ipairs(stale) do
      dropHolder(s, token, nil)
    end
  end
  if s.queued > 0 then
    stale = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', s.nowMs, 'LIMIT', 0, PURGE_BATCH)
    for _, token in ipairs(stale) do
      dropWaiter(s, token)
    end
  end
end

-- Never lower than the server clock in microseconds, so tokens keep rising even
-- when Redis restarts empty or fails over, as long as server clocks do not step back.
local function nextFence(s)
  if not s.fence then
    s.fence = tonumber(redis.call('GET', KEYS[5]) or '0')
  end
  if s.nowUs > s.fence then
    s.fence = s.nowUs
  else
    s.fence = s.fence + 1
  end
  s.fenceChanged = true
  return s.fence
end

-- `queued` is false on the fast path, where the token never entered the queue.
local function grant(s, token, weight, ttl, inbox, queued)
  local fence = nextFence(s)
  if queued then
    redis.call('ZREM', KEYS[2], token)
    redis.call('ZREM', KEYS[3], token)
    s.queued = s.queued - 1
  end
  redis.call('ZADD', KEYS[1], fmt(s.nowMs + ttl), token)
  s.dirty = true
  s.pending[token] = ticket(weight, ttl, inbox, fence, s.nowMs)
  s.granted[token] = fence
  s.held = s.held + weight
  return fence
end

-- Puts `token` at the tail of the queue; its ticket is written in finish().
local function enqueue(s, token, weight, ttl, inbox)
  s.seq = s.seq + 1
  redis.call('ZADD', KEYS[2], s.seq, token)
  redis.call('ZADD', KEYS[3], fmt(s.nowMs + ttl), token)
  s.dirty = true
  s.pending[token] = ticket(weight, ttl, inbox, 0, 0)
  s.queued = s.queued + 1
end

-- Grants the head of the queue while it fits, and tells each new holder through
-- its process's inbox channel, fencing token included, so no confirm trip is needed.
-- Serving only the head is what makes it fair: a heavy head blocks lighter waiters
-- behind it. Each grant takes at least one permit, so the loop runs at most `permits` times.
-- `quiet` names a token whose caller learns of its grant from the reply instead.
local function drain(s, quiet)
  local grants = 0
  while s.queued > 0 and grants < GRANT_BATCH do
    local head = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
    if not head then
      s.queued = 0
      return
    end
    local raw = readTicket(s, head)
    if not raw then
      -- A queue entry without a ticket cannot be granted; drop it rather than stall.
      dropWaiter(s, head)
    else
      local weight, ttl, inbox = parseTicket(raw)
      if s.held + weight > s.permits then
        return
      end
      local fence = grant(s, head, weight, ttl, inbox, true)
      grants = grants + 1
      if head ~= quiet then
        redis.call(s.publish, s.channelPrefix .. inbox, head .. ':' .. fmt(fence))
      end
    end
  end
end

-- Writes the counters back and keeps every key alive as long as its longest-lived
-- entry could be (now + the longest ttl in use), or deletes them all once nobody
-- holds or waits. The fence key never expires, on purpose.
local function finish(s)
  -- A call that changed nothing (a status, a release of an unknown token) writes nothing.
  if not s.dirty then
    return
  end
  if s.fenceChanged then
    redis.call('SET', KEYS[5], fmt(s.fence))
  end
  if s.held <= 0 and s.queued <= 0 then
    redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
    return
  end
  local w = {}
  for token, raw in pairs(s.pending) do
    w[#w + 1] = token
    w[#w + 1] = raw
  end
  w[#w + 1] = '#held'
  w[#w + 1] = s.held
  w[#w + 1] = '#permits'
  w[#w + 1] = s.permits
  w[#w + 1] = '#maxttl'
  w[#w + 1] = s.maxTtl
  w[#w + 1] = '#seq'
  w[#w + 1] = s.seq
  for i = 1, #w, HSET_SLICE do
    redis.call('HSET', KEYS[4], unpack(w, i, math.min(i + HSET_SLICE - 1, #w)))
  end
  local ms = fmt(s.maxTtl + 1000)
  redis.call('PEXPIRE', KEYS[1], ms)
  redis.call('PEXPIRE', KEYS[4], ms)
  if s.queued > 0 then
    redis.call('PEXPIRE', KEYS[2], ms)
    redis.call('PEXPIRE', KEYS[3], ms)
  end
end

-- Milliseconds until the earliest holder expires (server clock), or -1 if none:
-- a waiter uses it to re-check right when a dead holder's permit comes free. Only
-- waiters near the head (within `permits` of it) are told, so that a dead holder
-- brings a few re-checks at its expiry, not one per waiter.
local function nextExpiryIn(s, position)
  if position >= s.permits then
    return -1
  end
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
  if not first then
    return -1
  end
  return tonumber(first) - s.nowMs
end
