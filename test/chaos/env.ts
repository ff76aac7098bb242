/** A setting that a process forked by the suite (a client, the resizer) gets from its parent. */
export function env(name: string): string {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set: this process is forked by test/chaos/run.ts`);
  return value;
}
