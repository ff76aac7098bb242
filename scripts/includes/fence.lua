--[[
  Layout version 3, shared by every script (each `--@include name` is inlined by the
  loader, src/lua.ts; never run on its own). Every script gets the same four keys,
  all under one hash tag:

    KEYS[1] fence    string, never expires: the last fencing token granted (µs). The
                     same key and format as layout 1, so tokens keep rising across an
                     upgrade.
    KEYS[2] tickets  sorted set of holders: '<token>|<fencing token>' -> lease expiry
                     (ms, server clock). Layout 1 kept a hash here: each version fails
                     with WRONGTYPE, at once and before any write, on a key the other
                     one is using.
    KEYS[3] waiters  sorted set: '<token>' -> deadline (ms, server clock)
    KEYS[4] line     list of waiting tokens in arrival order; an entry whose token is
                     no longer in `waiters` (it left or was evicted) is dropped when it
                     reaches the front

  Layout 3 adds the key's settings, written only by configure-4.lua and only while
  there are any (a stored limit, or a pause): one member of `tickets`,
  '#<layout>*4503599627370496:<limit>:<paused>', scored SETTINGS (2^53 ms, some 285,000
  years away: finite, so that layout 2's scripts compute with it as with any expiry) so
  that it sorts after every holder and never expires; <limit> is '0' when the callers'
  permits decide, <paused> '1' or '0'. A key without it is a layout 2 key, served as
  before. Scripts of a layout meet a higher number there only on a key of a newer
  version, and refuse it (-6) before they change anything of that version's: what they
  may do first, drop holders whose expiry passed, every layout does alike (a holder's
  score is its expiry). Layout 2's scripts read the member as a holder of weight 2^52
  (the '*' part), so they grant nothing on such a key to callers of up to 2^52 permits:
  those wait, and never break the stored limit or the pause.

  A Mutex's token is the only one without '/<permits>' (a Semaphore writes even '/1'):
  its one permit is fixed, so a stored limit above 1 never lets a second Mutex holder
  in. (Layout 2 left '/1' out of every token of 1 permit: such a ticket of an older
  process counts as a Mutex's, which can only make it wait longer.)

  A token is '<inbox>.<n>', then '~<label>' if the acquisition has one, '*<weight>'
  unless the weight is 1 and '/<permits>' unless it is a Mutex's (src/tokens.ts). It
  names the waiter's wake-up channel, its weight and the permits it asked under, so a
  waiter costs one entry in `waiters` and one in `line`, and no number derived from
  other data is stored anywhere: what is held is summed from the holders, the queue
  length is the size of `waiters`. No failure between two writes can leave a count
  that later calls misread; what can fail for reasons outside the scripts (a key of
  the wrong type, a refused PUBLISH) goes through redis.pcall and is handled.

  Every script takes its flags first, in ARGV[1]: 'p' (grants are announced with
  PUBLISH) or 's' (SPUBLISH, in a cluster), then what is particular to the script.
  The clock is read by includes/clock.lua, before fencing tokens need it. Grants are
  announced on '<prefix>:{<key>}:wake:<inbox>': KEYS[1] as Redis sees it (after any
  keyPrefix of the client's) without 'fence', plus 'wake:' and the inbox.

  Each script call costs Redis a fixed amount before it does anything, plus about as
  much per key and argument as per redis.call (see bench/RESULTS.md): so options travel
  packed in one argument, replies are single values where they can be, and the
  uncontended paths return before the helpers below are even defined.
]]

-- The layout these scripts write and serve, and the score of the settings (see above).
local LAYOUT = 3
local SETTINGS = '9007199254740992'

-- A fencing token as stored: digits, below 2^53 - 1 so that the next one is still
-- exact in a double (and in JavaScript). Anything else is not ours: the clock takes over.
local function readable(fence)
  return type(fence) == 'string' and string.match(fence, '^%d+$') ~= nil and tonumber(fence) < 9007199254740991
end

-- The next fencing token: the server clock in µs, or one past the last token when
-- that is not lower (two grants within a µs, or a clock that stepped back), so tokens
-- never go back, even when the counter is lost (restart, failover), as long as server
-- clocks do not step back. One SET with GET reads and writes it in the common case.
-- Returns its exact decimal digits (Lua's tostring keeps only 14): both are 16 digits
-- long until the year 2286, so comparing them as strings compares the numbers.
local function nextFence()
  local us = t[1] .. string.sub('00000' .. t[2], -6)
  local old = redis.pcall('SET', KEYS[1], us, 'GET')
  if type(old) == 'table' then
    -- Not a string: the counter is unreadable; the clock carries on from here.
    redis.call('DEL', KEYS[1])
    redis.call('SET', KEYS[1], us)
  elseif old and (#old > #us or (#old == #us and old >= us)) and readable(old) then
    us = string.format('%.0f', tonumber(old) + 1)
    redis.call('SET', KEYS[1], us)
  end
  return us
end
