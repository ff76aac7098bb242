--[[
  Reports who holds and who waits, after evicting expired entries (and granting
  what they freed). Costs O(holders + limit) plus O(log n) per eviction.

  Input:
    KEYS[1..5] holders, queue, deadlines, tickets, fence (see includes/queue.lua)
    ARGV[1] permits        permits of the semaphore, if no acquire has stored them
    ARGV[2] channelPrefix  inbox channels are channelPrefix .. inbox
    ARGV[3] limit          at most this many waiters are listed (from the head)
    ARGV[4] publish        PUBLISH, or SPUBLISH in a cluster

  Output:
    { held, waiting, lastFence, holderCount, waiterCount,
      holder fields..., waiter fields... }
    where each holder is: token, weight, fence, expiresIn (ms), heldFor (ms)
    and each waiter is:   token, weight, expiresIn (ms)
]]
--@include queue

local limit = tonumber(ARGV[3])

local s = load(ARGV[1], nil, false, ARGV[2], ARGV[4])
purge(s)
drain(s, nil)
finish(s)

local out = { s.held, s.queued, tonumber(redis.call('GET', KEYS[5]) or '0') }
local holders = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local waiters = {}
if limit > 0 and s.queued > 0 then
  waiters = redis.call('ZRANGE', KEYS[2], 0, limit - 1)
end
out[4] = #holders / 2
out[5] = #waiters
for i = 1, #holders, 2 do
  local weight, _, _, fence, grantedAt = parseTicket(redis.call('HGET', KEYS[4], holders[i]))
  out[#out + 1] = holders[i]
  out[#out + 1] = weight
  out[#out + 1] = fence
  out[#out + 1] = tonumber(holders[i + 1]) - s.nowMs
  out[#out + 1] = s.nowMs - grantedAt
end
for _, token in ipairs(waiters) do
  local weight = parseTicket(redis.call('HGET', KEYS[4], token))
  out[#out + 1] = token
  out[#out + 1] = weight
  out[#out + 1] = tonumber(redis.call('ZSCORE', KEYS[3], token)) - s.nowMs
end
return out
