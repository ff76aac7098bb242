/** Small text helpers shared by the commands' output. */

export const programName = 'redis-fair-semaphore';

/** One line on stderr, always prefixed so it stands out from the command's own output. */
export function say(message: string): void {
  process.stderr.write(`${programName}: ${message}\n`);
}

/** Human durations: "850ms", "12.3s", "4m05s", "2h03m". */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  // Not up to 1000: 999.6 would round to "1000ms".
  if (ms < 999.5) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const whole = Math.floor(s);
  if (whole < 3600) return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
  return `${Math.floor(whole / 3600)}h${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * Text from Redis (anyone's data: keys found by SCAN, tokens and labels in a semaphore)
 * as a quoted string a terminal shows and never obeys: JSON's escapes, plus the
 * characters JSON leaves raw that a terminal would act on or that would reorder the
 * line (DEL, C1 controls such as CSI, line and paragraph separators, bidi controls).
 */
export function quoted(text: string): string {
  return JSON.stringify(text).replace(
    /[\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** As quoted(), without the quotes: for a table cell. */
export function printable(text: string): string {
  return quoted(text).slice(1, -1);
}

/** A label (or other optional text from Redis) as a table cell: `-` when absent. */
export function cell(text: string | undefined): string {
  return text === undefined ? '-' : printable(text);
}

/** Left-aligned columns separated by two spaces; the header row is the first row. */
export function table(rows: readonly (readonly string[])[], indent = '  '): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows
    .map((row) => indent + row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '))
    .join('\n');
}

/** A Redis URL fit for messages: the password never reaches a terminal or a log. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/** `text` as one word for a POSIX shell: as it is when nothing in it is special, else single-quoted. */
export function shellWord(text: string): string {
  return /^[\w.,:@%+=/-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}
