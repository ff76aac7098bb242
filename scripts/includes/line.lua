--[[
  The waiting line: `waiters` (who waits, and until when) and `line` (in which order).
  Inlined after `tickets`; `s.n` is how many wait.
]]

-- The command that announces grants, from the flags every script takes first.
local PUBLISH = string.sub(ARGV[1], 1, 1) == 's' and 'SPUBLISH' or 'PUBLISH'

-- Bounds the work one call spends on expired waiters and on serving the line, so
-- that no call blocks Redis for long; what is left is done by the next call.
local PURGE_BATCH = 100
local DRAIN_BATCH = 1000
-- Waiters this close to the front (beyond `permits`) are told when the earliest
-- lease expires, so that they re-check right then if its holder died.
local NEAR_SLACK = 4
local NEAR_CAP = 100

-- Drops both line keys: their order can no longer be trusted. Each waiter finds
-- itself gone at its next heartbeat and queues again.
local function resetLine(s)
  redis.call('DEL', KEYS[3], KEYS[4])
  s.n = 0
end

-- Sets s.n. A `waiters` key of another type is reset, not trusted.
local function countWaiters(s)
  local n = redis.pcall('ZCARD', KEYS[3])
  if type(n) ~= 'number' then
    resetLine(s)
  else
    s.n = n
  end
end

-- Evicts waiters whose deadline passed, wherever they stand. Their `line` entries
-- stay behind and are dropped when they reach the front.
local function purgeWaiters(s)
  if s.n == 0 then
    return
  end
  local dead = redis.call('ZRANGE', KEYS[3], '-inf', nowMs, 'BYSCORE', 'LIMIT', 0, PURGE_BATCH)
  if #dead > 0 then
    redis.call('ZREM', KEYS[3], unpack(dead))
    s.n = s.n - #dead
    if s.n == 0 then
      redis.call('DEL', KEYS[4])
    end
  end
end

-- The last fencing token granted, in digits ('0' if none, or if the counter is unreadable).
local function lastFence()
  local fence = redis.pcall('GET', KEYS[1])
  return readable(fence) and fence or '0'
end

-- Keeps the line's keys alive until `expiry` (ms), a waiter's deadline, so that when
-- every waiter dies (or only entries of waiters that left remain) they go by
-- themselves. GT never shortens what a longer ttl set; keys just created (no lifetime
-- yet) get one plainly.
local function keepUntil(expiry, fresh)
  local ms = string.format('%d', expiry - nowMs)
  if fresh then
    redis.call('PEXPIRE', KEYS[3], ms)
    redis.call('PEXPIRE', KEYS[4], ms)
  else
    redis.call('PEXPIRE', KEYS[3], ms, 'GT')
    redis.call('PEXPIRE', KEYS[4], ms, 'GT')
  end
end

-- Where `token` stands in `line` if it is near the front, else -1. The index counts
-- entries that already left, so it can only overstate the place.
local function nearHead(s, token)
  local i = redis.pcall('LPOS', KEYS[4], token, 'MAXLEN', math.min(s.permits, NEAR_CAP) + NEAR_SLACK)
  if type(i) == 'number' then
    return i
  end
  return -1
end

-- Milliseconds until the earliest lease expires, for waiters near the front only, so
-- that a dead holder brings a few re-checks at its expiry, not one per waiter; -1 if
-- the waiter is not near the front or nobody holds.
local function nextExpiryIn(s, position)
  if position < 0 or position >= math.min(s.permits, NEAR_CAP) + NEAR_SLACK then
    return -1
  end
  return earliestExpiryIn()
end

-- Sends `message` to the client whose inbox `token` names: a grant ('<token>|<fence>',
-- the holder's member, so the waiter needs no confirm trip) or a refusal
-- ('<token>!<limit>'). A refused PUBLISH (an ACL without channel rights) is no reason
-- to fail: the waiter's heartbeat finds out instead.
local function tell(token, message)
  local inbox = string.match(token, '^([^.]+)%.')
  if inbox then
    redis.pcall(PUBLISH, string.sub(KEYS[1], 1, -6) .. 'wake:' .. inbox, message)
  end
end

-- Takes a waiter that can never fit the stored limit out of the line and tells its
-- client. The message only makes the waiter re-check: its ticket is gone, it queues
-- again, and the acquire script refuses it with the limit. A lost message delays that
-- to the waiter's next heartbeat.
local function refuse(s, token)
  redis.call('ZREM', KEYS[3], token)
  s.n = s.n - 1
  s.refused = (s.refused or 0) + 1
  tell(token, token .. '!' .. digits(s.set))
end

-- Serves the front of the line while it fits, within the stored limit, or else within
-- the permits each waiter asked under; nothing while paused. Serving only the front is
-- what makes it fair: a heavy waiter there blocks lighter ones behind it. A grant keeps
-- the waiter's own deadline as the lease's expiry, so being granted never extends the
-- time a silent process blocks the others. `quiet` names a token whose caller learns of
-- its grant from the reply (s.granted). Runs only while s.held is below s.permits (the
-- caller's, or the stored limit), since nothing fits otherwise. s.grants counts grants.
local function drain(s, quiet)
  if s.paused then
    return
  end
  local steps = 0
  while s.n > 0 and s.held < s.permits and steps < DRAIN_BATCH do
    steps = steps + 1
    local head = redis.pcall('LPOP', KEYS[4])
    if type(head) ~= 'string' then
      -- No line (or not a list) while waiters remain: order is lost.
      resetLine(s)
      return
    end
    local deadline = tonumber(redis.call('ZSCORE', KEYS[3], head))
    if deadline and deadline <= nowMs then
      redis.call('ZREM', KEYS[3], head)
      s.n = s.n - 1
    elseif deadline then
      local weight, permits = shape(head)
      permits = limitOf(s, head, permits)
      if s.set and weight > permits then
        -- configure-4.lua and acquire-4.lua keep such waiters out; one that is here
        -- anyway must not block the line for good.
        refuse(s, head)
      elseif weight > permits - s.held then
        redis.call('LPUSH', KEYS[4], head)
        break
      else
        redis.call('ZREM', KEYS[3], head)
        s.n = s.n - 1
        s.grants = (s.grants or 0) + 1
        local fence, member = addHolder(s, head, weight, deadline)
        if head == quiet then
          s.granted = fence
        else
          tell(head, member)
        end
      end
    end
    -- else: a waiter that already left; popping its entry was all there was to do.
  end
  -- Entries of waiters that left may remain behind the last one served: they go
  -- with the line's lifetime, which no waiter renews any more.
end
