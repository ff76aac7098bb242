import { Redis } from 'ioredis';
import type { RedisClient } from '../../src/index.js';

type Send = (...args: unknown[]) => unknown;

/**
 * Records the name of every command a client sends from now on: the way to count
 * round trips of one operation. It only observes; every command still reaches Redis.
 * node-redis: what goes through sendCommand, which carries every script call; v5 and
 * later send their other commands through it too, v4 sends those (CONFIG GET) past it.
 */
export function recordCommands(client: RedisClient): { names: string[]; stop(): void } {
  const names: string[] = [];
  if (client instanceof Redis) {
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
  // v5 and later hand out Object.create(client); their own commands call sendCommand on `_self`, the client beneath.
  const proxy = client as unknown as { sendCommand: Send; _self?: { sendCommand: Send } };
  const c = proxy._self ?? proxy;
  const original = c.sendCommand;
  // A client's sendCommand(args), or a cluster's sendCommand(firstKey, isReadonly, args).
  c.sendCommand = function (this: unknown, ...args: unknown[]) {
    const command = args.find(Array.isArray) as unknown[];
    names.push(String(command[0]).toLowerCase());
    return original.apply(this, args);
  };
  return {
    names,
    stop: () => {
      c.sendCommand = original;
    },
  };
}

/** Script calls go out as evalsha (or eval once, after NOSCRIPT). */
export function scriptCalls(names: readonly string[]): number {
  return names.filter((n) => n === 'evalsha' || n === 'eval').length;
}
