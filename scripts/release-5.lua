--[[
  Gives back whatever `token` has: a held permit (release) or a place in the queue
  (cancel after a timeout or an abort). One script for both closes the race where a
  grant lands just as its waiter gives up: the permit goes back either way. Then
  grants the new head(s) of the queue. Unknown tokens change nothing, so a resent
  release never touches anybody else's permit.

  Input:
    KEYS[1..5] holders, queue, deadlines, tickets, fence (see includes/queue.lua)
    ARGV[1] token
    ARGV[2] permits        permits of the semaphore, if no acquire has stored them
    ARGV[3] channelPrefix  inbox channels are channelPrefix .. inbox
    ARGV[4] publish        PUBLISH, or SPUBLISH in a cluster

  Output:
    1    the token held a permit; it is free again
    0    the token was waiting; it left the queue
    -1   the token was unknown (already released, expired, or never queued)
]]
--@include queue

local token = ARGV[1]

local s = load(ARGV[2], nil, false, ARGV[3], ARGV[4])
purge(s)

local result = -1
local raw = redis.call('HGET', KEYS[4], token)
if raw then
  local weight, _, _, fence = parseTicket(raw)
  if fence > 0 then
    if s.held == weight and s.queued == 0 then
      -- The last holder of an idle semaphore: finish() deletes every key at once.
      s.held = 0
      touched(s)
    else
      dropHolder(s, token, raw)
    end
    result = 1
  else
    dropWaiter(s, token)
    result = 0
  end
end

drain(s, nil)
finish(s)
return result
