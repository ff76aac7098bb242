import type { Redis } from 'ioredis';

/**
 * Records the name of every command a client sends from now on: the way to count
 * round trips of one operation. It only observes; every command still reaches Redis.
 */
export function recordCommands(client: Redis): { names: string[]; stop(): void } {
  const names: string[] = [];
  const original = client.sendCommand;
  client.sendCommand = function (this: Redis, command, stream) {
    names.push(command.name);
    return original.call(this, command, stream);
  } as Redis['sendCommand'];
  return {
    names,
    stop: () => {
      client.sendCommand = original;
    },
  };
}

/** Script calls go out as evalsha (or eval once, after NOSCRIPT). */
export function scriptCalls(names: readonly string[]): number {
  return names.filter((n) => n === 'evalsha' || n === 'eval').length;
}
