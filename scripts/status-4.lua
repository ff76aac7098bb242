#!lua flags=allow-oom
--[[
  Reports who holds and who waits, after evicting expired entries (and serving what
  they freed). Costs O(holders + limit), plus the entries of waiters that left which
  it meets in the line (at most 2 * limit + 100 entries are read).

  Input:
    KEYS[1..4]  fence, tickets, waiters, line (see includes/fence.lua)
    ARGV[1] flags   'p' (PUBLISH) or 's' (SPUBLISH)
    ARGV[2] limit   at most this many waiters are listed, from the front

  Output:
    -4   layout 1 uses the key
    -6   a newer layout's settings are stored on the key
    { held, waiting, lastFence, permits, holderCount, waiterCount, limit, paused,
      holder fields..., waiter fields... }
    held, lastFence, permits, limit and weights are in digits; permits: as the newest
    holder asked, else the front waiter, else '0'; limit: the stored limit, '0' when
    the callers' permits decide; paused: 1 or 0. Each holder is: token, weight, fence (digits), expiresIn (ms),
    heldFor (ms, read from the fencing token, which is the grant's server time in µs
    unless the clock stepped back); each waiter: token, weight, expiresIn (ms)
]]

--@include clock
--@include fence
--@include tickets
--@include line

local limit = tonumber(ARGV[2])

local s = {}
local refused = readHolders(s, nil)
if refused then
  return refused
end
countWaiters(s)
purgeWaiters(s)
-- Serve whatever fits: each front waiter is checked against the stored limit, or else
-- its own permits.
s.permits = s.set or math.huge
drain(s, nil)

local out = { digits(s.held), s.n, lastFence(), '0', 0, 0, s.set and digits(s.set) or '0', s.paused and 1 or 0 }
local newest = ''
local r = redis.call('ZRANGE', KEYS[2], '(' .. nowMs, '+inf', 'BYSCORE', 'WITHSCORES')
for i = 1, #r, 2 do
  local token, fence = string.match(r[i], '^(.*)|(%d+)$')
  if token then
    local weight, permits = shape(token)
    out[#out + 1] = token
    out[#out + 1] = digits(weight)
    out[#out + 1] = fence
    out[#out + 1] = tonumber(r[i + 1]) - nowMs
    out[#out + 1] = math.max(0, nowMs - math.floor(tonumber(fence) / 1000))
    out[5] = out[5] + 1
    if #fence > #newest or (#fence == #newest and fence > newest) then
      newest = fence
      out[4] = digits(permits)
    end
  end
end

local from, seen = 0, {}
local budget = 2 * limit + 100
while out[6] < limit and from < budget and s.n > 0 do
  local chunk = redis.pcall('LRANGE', KEYS[4], from, from + math.min(limit, 1000) - 1)
  if chunk.err then
    -- `line` is not a list: the order is lost (see resetLine).
    resetLine(s)
    out[2] = 0
    break
  end
  if #chunk == 0 then
    break
  end
  from = from + #chunk
  local deadlines = redis.call('ZMSCORE', KEYS[3], unpack(chunk))
  for i, token in ipairs(chunk) do
    local deadline = tonumber(deadlines[i])
    if deadline and deadline > nowMs and not seen[token] and out[6] < limit then
      seen[token] = true
      local weight, permits = shape(token)
      if out[4] == '0' then
        out[4] = digits(permits)
      end
      out[#out + 1] = token
      out[#out + 1] = digits(weight)
      out[#out + 1] = deadline - nowMs
      out[6] = out[6] + 1
    end
  end
end
return out
