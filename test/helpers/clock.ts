/**
 * The scripts as shipped, but reading the time from a key the test sets
 * (`KEYS[1] .. ':clock'`, in ms) instead of from TIME, so that expiry can be driven step
 * by step; and without key lifetimes, which Redis counts in real time, not on the test's
 * clock (test/keys.test.ts covers them). Nothing else is changed.
 */
export function movableClock(lua: string): string {
  const time = "local t = redis.call('TIME')";
  if (!lua.includes(time)) throw new Error('the scripts no longer read TIME as expected');
  return lua
    .split(time)
    .join(
      "local clock = tonumber(redis.call('GET', KEYS[1] .. ':clock'))\n" +
        'local t = { tostring(math.floor(clock / 1000)), tostring((clock % 1000) * 1000) }',
    )
    .split('local function keepUntil(expiry, fresh)\n')
    .join('local function keepUntil(expiry, fresh)\n  do return end\n');
}
