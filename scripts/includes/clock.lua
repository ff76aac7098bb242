-- The server clock, read once per call: `t` is TIME's reply (fence.lua builds fencing
-- tokens from it), `nowMs` the same moment in whole milliseconds, the unit of every
-- expiry and deadline.
local t = redis.call('TIME')
local nowMs = t[1] * 1000 + math.floor(t[2] / 1000)
