/** ioredis 6 with RESP2 as every client's default protocol (see register.mjs). */
import * as ioredis from 'ioredis6';

/** ioredis takes (port?, host?, options?) or (url, options?) or (options): default the options. */
function resp2(args) {
  const at = args.findIndex((a) => typeof a === 'object' && a !== null);
  if (at === -1) return [...args, { protocol: 2 }];
  return args.map((a, i) => (i === at ? { protocol: 2, ...a } : a));
}

export class Redis extends ioredis.Redis {
  constructor(...args) {
    super(...resp2(args));
  }
}

export class Cluster extends ioredis.Cluster {
  constructor(nodes, options = {}) {
    super(nodes, { ...options, redisOptions: { protocol: 2, ...options.redisOptions } });
  }
}

export default Redis;
export const { ReplyError, Command, ScanStream, Pipeline } = ioredis;
