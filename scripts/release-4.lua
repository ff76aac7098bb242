#!lua flags=allow-oom
--[[
  Gives back what a ticket has: a held lease (release), or a place in the line (cancel
  after a timeout or an abort). A cancel that finds the ticket already granted gives
  the permit back: a permit is never held by nobody. Then serves the front of the
  line. Unknown tickets change nothing, so a resent release never touches anybody
  else's permit. It frees memory, so it runs even when Redis is out of memory.

  Input:
    KEYS[1..4]  fence, tickets, waiters, line (see includes/fence.lua)
    ARGV[1] flags   'p' (PUBLISH) or 's' (SPUBLISH)
    ARGV[2] ticket  the lease's entry, '<token>|<fencing token>'; or, for a waiter
                    giving up, its token alone

  Output:
    1    the ticket held permits; they are free again
    0    the ticket was waiting; it left the line
    -1   the ticket was unknown (already released, expired, or never queued)
]]

local ticket = ARGV[2]
local result = -1

if string.find(ticket, '|', 1, true) then
  -- The caller names its holder entry exactly: one write.
  if redis.pcall('ZREM', KEYS[2], ticket) == 1 then
    result = 1
  end
elseif redis.pcall('ZREM', KEYS[3], ticket) == 1 then
  result = 0
  -- Its `line` entry goes at once when it is at either end (the front timing out, or
  -- the newest giving up); elsewhere it is dropped when it reaches the front.
  if redis.pcall('LINDEX', KEYS[4], 0) == ticket then
    redis.call('LPOP', KEYS[4])
  elseif redis.pcall('LINDEX', KEYS[4], -1) == ticket then
    redis.call('RPOP', KEYS[4])
  end
else
  -- Granted just as it gave up: find that grant and give it back.
  local members = redis.pcall('ZRANGE', KEYS[2], 0, -1)
  if not members.err then
    local prefix = ticket .. '|'
    for _, member in ipairs(members) do
      if string.sub(member, 1, #prefix) == prefix then
        redis.call('ZREM', KEYS[2], member)
        result = 1
        break
      end
    end
  end
end

local n = redis.pcall('ZCARD', KEYS[3])
if type(n) ~= 'number' or n == 0 then
  if result == 0 then
    -- The last waiter left: what remains of the line belongs to nobody.
    redis.call('DEL', KEYS[4])
  end
  return result
end

-- Others wait: serve the front of the line.
--@include clock
--@include fence
--@include tickets
--@include line

local s = { n = n }
if not readHolders(s, nil) then
  local _, permits = shape(string.match(ticket, '^([^|]*)'))
  s.permits = s.set or permits
  drain(s, nil)
end
return result
