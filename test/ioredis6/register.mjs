/**
 * `node --import ./test/ioredis6/register.mjs …`: everything that imports 'ioredis' in
 * this process and its children (the tests, their child processes, the CLI, the bench)
 * gets ioredis 6 instead, installed as `ioredis6`. With RFS_RESP=2 its clients also
 * speak RESP2 (ioredis 6 defaults to RESP3). .ci/run runs the suite all three ways.
 */
import { register } from 'node:module';

register(new URL('./hooks.mjs', import.meta.url));
