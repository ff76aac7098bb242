import type { Cluster, Redis } from 'ioredis';
import type { Adapter, Script, ScriptArgs } from './adapter.js';

/** Either ioredis client. */
export type IoredisClient = Redis | Cluster;

type Send = (name: string, numberOfKeys: number, keys: ScriptArgs, argv: ScriptArgs) => Promise<unknown>;

/**
 * ioredis. Scripts go as plain EVALSHA rather than through `defineCommand`, whose
 * per-call command object, reject wrapper and extra promise cost more Node CPU than
 * the rest of an acquire; a NOSCRIPT costs one more round trip instead, once per
 * script after Redis lost it. ioredis flattens argument arrays itself, so keys and
 * arguments are passed as they are, and routes a Cluster call by the script's first key.
 */
export function ioredisAdapter(client: IoredisClient): Adapter {
  const c = client as unknown as { evalsha: Send; eval: Send; isCluster?: boolean };
  return {
    cluster: c.isCluster === true,
    evalsha: (script: Script, keys: ScriptArgs, argv: ScriptArgs) => c.evalsha(script.sha, script.numberOfKeys, keys, argv),
    eval: (script: Script, keys: ScriptArgs, argv: ScriptArgs) => c.eval(script.lua, script.numberOfKeys, keys, argv),
  };
}
