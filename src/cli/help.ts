import { defaults, maxListLimit, minInterval } from './args.js';
import { ExitCode } from './exit-codes.js';
import { programName as p } from './format.js';

export const help = `Usage:
  ${p} run <key> [options] -- <command> [args...]
  ${p} acquire <key> [options]
  ${p} extend <id> <ms> [--url <url>]
  ${p} release <id> [--url <url>]
  ${p} status <key> [--watch [--interval <ms>]] [options]
  ${p} list [--prefix <text>] [--all] [--json] [options]
  ${p} set-permits <key> <n> | --unset [--url <url>] [--prefix <text>]
  ${p} pause <key> [--url <url>] [--prefix <text>]
  ${p} resume <key> [--url <url>] [--prefix <text>]
  ${p} --help | --version

A fair (first come, first served) semaphore shared by every process that uses
the same Redis and <key>.

run waits its turn, then runs <command> while holding the permit (refreshed in
the background), releases it when the command ends, and exits with the
command's exit code (128+N if signal N ended it). The command finds the key
and its fencing token in REDIS_FAIR_SEMAPHORE_KEY and
REDIS_FAIR_SEMAPHORE_FENCING_TOKEN.
While it waits on a terminal, it shows its place in the queue and the time
waited on stderr; off a terminal it prints nothing unless --verbose.

acquire waits its turn like run, then takes the permit with a fixed term of
--ttl ms (not refreshed), prints the lease's id on stdout and exits, leaving the
permit held. A later step gives it back with release <id>, or keeps it longer
with extend <id> <ms> (held at least <ms> more from now, on the Redis server's
clock; never shortened). Unless one of them comes first, the permit frees itself
when the term ends. The id is URL-safe and holds no secret: the key, prefix,
ticket and fencing token, all of which status shows to anyone. For example:
  id=$(${p} acquire nightly-report --permits 1 --ttl 3600000) || exit
  ...
  ${p} release "$id"

status prints who holds the permits (fencing token, weight, held for, expires
in, label) and who waits, in queue order. HELD FOR is read from the fencing
token, which is the Redis server's clock at the grant in microseconds (unless
that clock stepped back). run labels its lease with the host, its pid and the
command, so status shows who holds a permit. It also shows the limit and where
it comes from (set in Redis, or the permits the key's users pass), and PAUSED
while the key is paused.
status --watch reads it again every --interval ms until Ctrl-C. On a terminal
it redraws the screen in place, as top does: the held permits as a bar of the
limit, the holders (weight, held for, expires in, label; longest held first)
and the head of the line. How long a waiter has waited is not stored in Redis:
WAITED is at least the time since this watch first saw it. Off a terminal it
prints one line per reading (the time, held/limit, waiting, the head, the
longest hold, PAUSED); with --json, one line of status() JSON per reading.

list shows every semaphore under --prefix that has holders, waiters or
settings (with --all also idle keys, of which only the fencing token is left):
held/limit, waiting, the longest hold, where the limit comes from, paused.
It finds them with SCAN (never KEYS), matching on the prefix, and stops after
--limit semaphores or --scan-limit keys examined, whichever comes first, and
then says the listing was cut short. Keys are printed quoted and escaped, as
they are anyone's data.

set-permits stores <n> (1 to 2^53-1) in Redis as the key's limit, for every
process and client at once: from then on the permits they pass do not decide.
Waiters that now fit are granted at once, in order; a lower limit takes nothing
from holders, and nothing more is granted until what is held is under it.
Waiters whose weight is above the new limit leave the queue (a run or acquire
waiting exits with ${ExitCode.weightExceedsLimit}). --unset removes the stored limit: the permits the
users pass decide again. The limit never expires.
pause stops granting, for every process: waiters keep their places (and their
--timeout), holders keep their permits. resume grants again, serving the queue
in order at once. Each prints one line on stdout: what the setting was and is
now, and how many waiters were granted or refused. All three may be repeated
safely: a second pause changes nothing, and says so.

Options of run, acquire and status:
  --url <url>       Redis, as redis://[user:pass@]host:port[/db] or rediss://...
                    Default: $REDIS_URL, else redis://127.0.0.1:6379
  --permits <n>     Permits of the semaphore, 1 to 2^53-1. Use the same number
                    everywhere <key> is used. A limit set in Redis (set-permits)
                    decides over it.
                    run, acquire: may be left out when the key has a limit set
                    in Redis, which is then used; without one they exit with ${ExitCode.noLimit}.
                    status: shown when no limit is set and nobody holds or
                    waits (else status shows the number in Redis).
                    Default (status only): ${defaults.permits}
  --prefix <text>   Prefix of the Redis keys, as the library's \`prefix\`.
                    Default: ${defaults.prefix}
  -h, --help        Show this help.

Options of run and acquire:
  --weight <n>      Permits to take at once, 1 to --permits (or to the limit
                    set in Redis; above it they exit with ${ExitCode.weightExceedsLimit}). Default: ${defaults.weight}
  --ttl <ms>        run: how long the permit outlives a run that stopped
                    refreshing it (killed, frozen, cut off); refreshed every
                    ttl/3. acquire: the lease's fixed term. Both: how long a
                    waiter keeps its place without a heartbeat. Default: ${defaults.ttl}
  --timeout <ms>    Give up after waiting this long; 0: only if a permit is
                    free now. Default: wait forever
  -v, --verbose     Log waiting, acquiring and releasing on stderr as lines
                    (instead of the live line on a terminal).
  -q, --quiet       Print nothing of our own but errors, even on a terminal.

Options of run:
  --grace <ms>      If the lease is lost while the command runs, time between
                    the SIGTERM and the SIGKILL sent to it; 0 sends SIGKILL at
                    once. Default: ${defaults.grace}

Options of acquire:
  --label <text>    Shown by status beside the holder: 1 to 64 letters,
                    digits, spaces and _.:@,=+#()[]-.
                    Default: the host, the pid and "acquire"

Options of extend and release: only --url. The key, prefix and permits come
from the id.

Options of set-permits, pause and resume: --url and --prefix, as for status.
  --unset           set-permits: remove the stored limit (instead of <n>).

Options of status:
  --json            Print exactly what the library's status() returns.
  --limit <n>       List at most n waiters. Default: ${defaults.limit}
  -w, --watch       Read it again every --interval ms until a signal (above).
  --interval <ms>   With --watch: ms between readings, at least ${minInterval}.
                    Default: ${defaults.interval}

Options of list: --url and --prefix, as for status, and:
  --all             Also list idle keys (no holder, waiter or setting).
  --limit <n>       List at most n semaphores, 1 to ${maxListLimit}. Default: ${defaults.listLimit}
  --scan-limit <n>  Stop SCAN after examining about n keys of the database.
                    Default: ${defaults.scanLimit}
  --json            Print {prefix, complete, stoppedBy, semaphores,
                    unreadable}: semaphores holds each key's status() with
                    only the head of the line in waiters; stoppedBy is null,
                    "limit" or "scan-limit".

Signals: run and acquire catch SIGINT, SIGTERM and SIGHUP. While waiting, one
of them takes it out of the queue and it exits with 128+N. While run's command
runs, they are forwarded to it (only to it, not to its own children), and run
exits as the command does.

Lost lease: if Redis no longer holds the permit while the command runs (expired
after Redis was unreachable for about ttl, restarted, flushed), run says so on
stderr, sends SIGTERM to the command, then SIGKILL after --grace ms, and exits
with ${ExitCode.leaseLost}.

Exit codes:
  (command's)  run: the command's exit code, or 128+N if signal N ended it
  0            acquire, extend, release, status, list, set-permits, pause,
               resume, --help: success; status --watch: stdout was closed
  ${ExitCode.usage}           bad arguments (nothing was sent to Redis)
  ${ExitCode.weightExceedsLimit}           run, acquire: --weight is above the limit set in Redis, so it
               could never be granted (nothing was queued, or the limit was
               lowered while it waited); run: the command did not run
  ${ExitCode.unavailable}           Redis could not be reached or refused the connection
  ${ExitCode.internal}           unexpected error, such as an error reply from Redis
  ${ExitCode.timeout}           run, acquire: --timeout ran out before the grant (run: the
               command did not run)
  ${ExitCode.noLimit}           run, acquire: no --permits, and no limit set in Redis for the
               key (pass --permits, or run set-permits); nothing was queued
  ${ExitCode.leaseLost}           run: the lease was lost; the command was stopped (or did
               not start)
               extend, release: the lease is no longer held (its term ended,
               or it was released); nothing was changed
  ${ExitCode.cannotExecute}          run: the command could not be executed
  ${ExitCode.notFound}          run: the command was not found
  128+N        run, acquire: signal N while waiting (130 for SIGINT, 143
               for SIGTERM); status --watch: ended by signal N
`;
