--[[
  Holders, in `tickets`. Inlined after `fence`, once the script has set `nowMs` (the
  server clock in ms, a number). The slow paths keep what one call knows in a table
  `s`: held (weight of the live holders), holders (token -> member), earliest (the
  first lease expiry, ms), permits (as the caller asked), freed (expired holders were
  just removed).

  `tickets` has no lifetime of its own: it goes when its last holder releases, and an
  entry of a holder that died stays until the next call on the key removes it.
]]

-- Weight and permits a token asked for (src/tokens.ts writes them).
local function shape(token)
  local weight, permits = string.match(token, '%*(%d+)/(%d+)$')
  if weight then
    return tonumber(weight), tonumber(permits)
  end
  return 1, 1
end

-- Reads the live holders into `s` and drops the expired ones. Returns false, before
-- any write, when `tickets` is layout 1's hash (layout 1 always gave it a lifetime);
-- any other foreign value is dropped (its holders learn at their next refresh that
-- their lease is gone).
local function readHolders(s)
  local r = redis.pcall('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
  if r.err then
    if redis.call('TYPE', KEYS[2]).ok == 'hash' and redis.call('PTTL', KEYS[2]) > 0 then
      return false
    end
    redis.call('DEL', KEYS[2])
    r = {}
  end
  s.held = 0
  s.holders = {}
  local dead = {}
  for i = 1, #r, 2 do
    local member, expiry = r[i], tonumber(r[i + 1])
    if expiry <= nowMs then
      -- At most `permits` entries can be here; unpack() takes some 8000 at most.
      if #dead < 1000 then
        dead[#dead + 1] = member
      end
    else
      local token = string.match(member, '^(.*)|')
      if token then
        s.holders[token] = member
        s.held = s.held + shape(token)
        -- Sorted by expiry: the first live holder's lease runs out first.
        s.earliest = s.earliest or expiry
      end
    end
  end
  if #dead > 0 then
    redis.call('ZREM', KEYS[2], unpack(dead))
    s.freed = true
  end
  return true
end

local function fenceOf(member)
  return string.match(member, '|(%d+)$')
end

-- Makes `token` a holder until `expiry` (ms). Returns its fencing token and member.
local function addHolder(s, token, expiry)
  local fence = nextFence()
  local member = token .. '|' .. fence
  redis.call('ZADD', KEYS[2], string.format('%d', expiry), member)
  s.holders[token] = member
  s.held = s.held + shape(token)
  if not s.earliest or expiry < s.earliest then
    s.earliest = expiry
  end
  return fence, member
end
