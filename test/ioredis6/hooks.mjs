/** Resolve hook: 'ioredis' becomes ioredis 6 (or its RESP2 wrapper). See register.mjs. */
const target = process.env.RFS_RESP === '2' ? new URL('./resp2.mjs', import.meta.url).href : 'ioredis6';

export async function resolve(specifier, context, next) {
  return next(specifier === 'ioredis' ? target : specifier, context);
}
