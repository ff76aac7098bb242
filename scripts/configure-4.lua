#!lua flags=allow-oom
--[[
  Changes the key's settings (layout 3, see includes/fence.lua): stores or removes the
  limit every process is served within, pauses or resumes granting. Then serves the
  front of the line with what the change made fit, at once and by push. Holders are
  never touched: a limit below what is held takes effect as releases and expiries pay
  the difference. It runs even when Redis is out of memory, so that an operator can
  pause a semaphore on a full Redis: it writes one small member, and what it grants
  moves waiters' entries over to `tickets` (as a release's grants do).

  Costs O(k + log n) for k grants on a line of n (at most DRAIN_BATCH, 1,000, in one
  call, as every script serves the line; the next call on the key serves more), plus,
  only when it lowers a stored limit (or stores the first one), one read of the waiters
  to take out those that can never fit it any more: each leaves the line at once and is
  told (see `refuse`).

  Input:
    KEYS[1..4]  fence, tickets, waiters, line (see includes/fence.lua)
    ARGV[1] flags   'p' (PUBLISH) or 's' (SPUBLISH)
    ARGV[2] change  'n' (store the limit ARGV[3]), 'u' (remove the stored limit: the
                    callers' permits decide again), 'z' (pause), 'r' (resume)
    ARGV[3] limit   for 'n': digits, 1 to 2^53 - 1

  Output:
    { limit, paused, grants, refused }
                    before the change: limit (digits; '0' when none was stored),
                    paused (1 or 0); then how many waiters were granted, and how many
                    taken out because they can never fit
    -4              layout 1 uses the key; nothing changed
    -6              a newer layout's settings are stored on the key; nothing changed
]]

--@include clock
--@include fence
--@include tickets
--@include line

local change = ARGV[2]
local s = {}
local refusal = readHolders(s, nil)
if refusal then
  return refusal
end
local before = { s.set and digits(s.set) or '0', s.paused and 1 or 0 }

if change == 'n' then
  s.set = tonumber(ARGV[3])
elseif change == 'u' then
  s.set = nil
elseif change == 'z' then
  s.paused = true
else
  s.paused = false
end

-- One member holds every setting: the old one goes, a new one comes if anything is set.
-- With neither, the key is a layout 2 key again, which older versions serve too.
redis.call('ZREMRANGEBYSCORE', KEYS[2], SETTINGS, '+inf')
if s.set or s.paused then
  local member = '#' .. LAYOUT .. '*4503599627370496:' .. (s.set and digits(s.set) or '0') .. ':' .. (s.paused and '1' or '0')
  redis.call('ZADD', KEYS[2], SETTINGS, member)
end

countWaiters(s)
purgeWaiters(s)

-- A lower limit than before (or the first one) may leave waiters that can never fit:
-- they leave the line now, so that none blocks those behind it.
local lowered = s.set and (before[1] == '0' or s.set < tonumber(before[1]))
if lowered and s.n > 0 then
  local tokens = redis.call('ZRANGE', KEYS[3], 0, -1)
  for _, token in ipairs(tokens) do
    -- Only a token with '*' weighs more than 1, and 1 fits any limit.
    if string.find(token, '*', 1, true) and shape(token) > s.set then
      refuse(s, token)
    end
  end
  if s.n == 0 then
    redis.call('DEL', KEYS[4])
  end
end

-- Without a stored limit each front waiter is served within the permits it asked under.
s.permits = s.set or math.huge
drain(s, nil)
return { before[1], before[2], s.grants or 0, s.refused or 0 }
