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

  Output:
    1    the token held a permit; it is free again
    0    the token was waiting; it left the queue
    -1   the token was unknown (already released, expired, or never queued)
]]
--@include queue

local token = ARGV[1]
local permits = storedPermits(ARGV[2])
local channelPrefix = ARGV[3]

local nowMs, nowUs = serverNow()
purge(nowMs)

local result = -1
if redis.call('ZSCORE', KEYS[1], token) then
  dropHolder(token)
  result = 1
elseif redis.call('ZSCORE', KEYS[2], token) then
  dropWaiter(token)
  result = 0
end

drain(permits, channelPrefix, nowMs, nowUs, nil)
touch(nowMs)
return result
