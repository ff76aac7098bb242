--[[
  Holders, in `tickets`. Inlined after `fence`, once the script has set `nowMs` (the
  server clock in ms, a number). The slow paths keep what one call knows in a table
  `s`: held (weight of the live holders), mine (the caller's own holder entry, if
  any), permits (as the caller asked; the stored limit when there is one), other
  (permits a holder asked for, when they differ from the caller's), freed (expired
  holders were just removed), set (the stored limit, if any), paused (true while
  paused).

  The key's settings, when it has any, are one more member of `tickets`, scored so
  that it sorts last and never expires (see fence.lua, layout 3).

  `tickets` has no lifetime of its own: it goes when its last holder releases, and an
  entry of a holder that died stays until the next call on the key removes it.

  Reading is the costly part of a call: Redis charges for every element a command
  returns and Lua for every string it parses. So scores are not fetched unless needed
  and a holder's weight is only parsed when its token says it is not 1.
]]

-- Permits and weights go up to 2^53 - 1: replies carry them as digits (Lua's tostring
-- keeps only 14, and some clients read integer replies that large inexactly: ioredis 6
-- over RESP3).
local function digits(n)
  return string.format('%.0f', n)
end

-- Weight and permits a token asked for (src/tokens.ts writes them; 1 when absent).
local function shape(token)
  local weight, permits = string.match(token, '^[^*/]*%*?(%d*)/?(%d*)$')
  return tonumber(weight) or 1, tonumber(permits) or 1
end

-- The limit a ticket is served within: the stored one if any (s.set), else the permits
-- it asked under; but a Mutex's ticket (the only one without '/<permits>') never more
-- than its one.
local function limitOf(s, token, permits)
  if not s.set or not string.find(token, '/', 1, true) then
    return permits
  end
  return s.set
end

-- Drops the expired holders and reads the live ones: their total weight into s.held,
-- the entry of `token`, if it holds, into s.mine, whether `tickets` existed at all
-- into s.tickets, and, when s.permits is set, into s.other the permits of a holder
-- that asked for other permits than the caller (every user of a key should pass the
-- same; the client warns), unless a stored limit makes their permits moot; and the
-- key's settings into s.set and s.paused. Returns nil, or a refusal before any
-- write: -4 when `tickets` is layout 1's hash (layout 1 always gave it a lifetime), -6
-- when settings of a newer layout than this one are stored; any other foreign value
-- is dropped (its holders learn at their next refresh that their lease is gone).
local function readHolders(s, token)
  local removed = redis.pcall('ZREMRANGEBYSCORE', KEYS[2], '-inf', nowMs)
  if type(removed) ~= 'number' then
    if redis.call('TYPE', KEYS[2]).ok == 'hash' and redis.call('PTTL', KEYS[2]) > 0 then
      return -4
    end
    redis.call('DEL', KEYS[2])
    removed = 0
  end
  s.freed = removed > 0
  s.held = 0
  local prefix = token and token .. '|'
  local members = redis.call('ZRANGE', KEYS[2], 0, -1)
  s.tickets = s.freed or #members > 0
  local last = members[#members]
  -- '#' (35) starts the settings' member, never a token (tokens.ts).
  if last and string.byte(last, 1) == 35 then
    members[#members] = nil
    local layout, set, paused = string.match(last, '^#(%d+)%*%d+:(%d+):(%d)')
    if not layout or tonumber(layout) > LAYOUT then
      return -6
    end
    if set ~= '0' then
      s.set = tonumber(set)
      s.permits = s.set
    end
    s.paused = paused == '1'
  end
  for _, member in ipairs(members) do
    if string.find(member, '*', 1, true) then
      s.held = s.held + (tonumber(string.match(member, '%*(%d+)')) or 1)
    else
      s.held = s.held + 1
    end
    if prefix and string.sub(member, 1, #prefix) == prefix then
      s.mine = member
    end
    if s.permits and not s.other and not s.set then
      local permits = tonumber(string.match(member, '/(%d+)|')) or 1
      if permits ~= s.permits then
        s.other = permits
      end
    end
  end
  return nil
end

local function fenceOf(member)
  return string.match(member, '|(%d+)$')
end

-- A grant's reply: its fencing token, and ':<permits>' when a holder asked for other
-- permits than the caller (s.other).
local function grantReply(s, fence)
  return s.other and fence .. ':' .. string.format('%.0f', s.other) or fence
end

-- The caller already holds (a resend, or a re-check that missed the message): it counts
-- its lease's ttl from this call, so Redis must too. Returns the grant's reply.
local function renewMine(s, expiry)
  redis.call('ZADD', KEYS[2], 'XX', expiry, s.mine)
  return grantReply(s, fenceOf(s.mine))
end

-- Makes `token`, of `weight`, a holder until `expiry` (ms). Returns its fencing token
-- and its member.
local function addHolder(s, token, weight, expiry)
  local fence = nextFence()
  local member = token .. '|' .. fence
  redis.call('ZADD', KEYS[2], string.format('%d', expiry), member)
  s.held = s.held + weight
  return fence, member
end

-- Milliseconds until the earliest lease expires, or -1 if nobody holds (the
-- settings' member, which sorts last, is no lease).
local function earliestExpiryIn()
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if not first[1] or string.byte(first[1], 1) == 35 then
    return -1
  end
  return tonumber(first[2]) - nowMs
end
