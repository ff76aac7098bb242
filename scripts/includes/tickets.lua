--[[
  Holders, in `tickets`. Inlined after `fence`, once the script has set `nowMs` (the
  server clock in ms, a number). The slow paths keep what one call knows in a table
  `s`: held (weight of the live holders), mine (the caller's own holder entry, if
  any), permits (as the caller asked), other (permits a holder asked for, when they
  differ from the caller's), freed (expired holders were just removed).

  `tickets` has no lifetime of its own: it goes when its last holder releases, and an
  entry of a holder that died stays until the next call on the key removes it.

  Reading is the costly part of a call: Redis charges for every element a command
  returns and Lua for every string it parses. So scores are not fetched unless needed
  and a holder's weight is only parsed when its token says it is not 1.
]]

-- Weight and permits a token asked for (src/tokens.ts writes them; 1 when absent).
local function shape(token)
  local weight, permits = string.match(token, '^[^*/]*%*?(%d*)/?(%d*)$')
  return tonumber(weight) or 1, tonumber(permits) or 1
end

-- Drops the expired holders and reads the live ones: their total weight into s.held,
-- the entry of `token`, if it holds, into s.mine, whether `tickets` existed at all
-- into s.tickets, and, when s.permits is set, into s.other the permits of a holder
-- that asked for other permits than the caller (every user of a key should pass the
-- same; the client warns). Returns false, before any
-- write, when `tickets` is layout 1's hash (layout 1 always gave it a lifetime); any
-- other foreign value is dropped (its holders learn at their next refresh that their
-- lease is gone).
local function readHolders(s, token)
  local removed = redis.pcall('ZREMRANGEBYSCORE', KEYS[2], '-inf', nowMs)
  if type(removed) ~= 'number' then
    if redis.call('TYPE', KEYS[2]).ok == 'hash' and redis.call('PTTL', KEYS[2]) > 0 then
      return false
    end
    redis.call('DEL', KEYS[2])
    removed = 0
  end
  s.freed = removed > 0
  s.held = 0
  local prefix = token and token .. '|'
  local members = redis.call('ZRANGE', KEYS[2], 0, -1)
  s.tickets = s.freed or #members > 0
  for _, member in ipairs(members) do
    if string.find(member, '*', 1, true) then
      s.held = s.held + (tonumber(string.match(member, '%*(%d+)')) or 1)
    else
      s.held = s.held + 1
    end
    if prefix and string.sub(member, 1, #prefix) == prefix then
      s.mine = member
    end
    if s.permits and not s.other then
      local permits = tonumber(string.match(member, '/(%d+)|')) or 1
      if permits ~= s.permits then
        s.other = permits
      end
    end
  end
  return true
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

-- Milliseconds until the earliest lease expires, or -1 if nobody holds.
local function earliestExpiryIn()
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2]
  if not first then
    return -1
  end
  return tonumber(first) - nowMs
end
