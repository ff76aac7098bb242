/**
 * The partition proxy (proxy.ts) for AVA tests: every proxy a test file opened is
 * closed when the file ends.
 */
import test from 'ava';
import { closeProxies } from './proxy.js';

export * from './proxy.js';

test.after.always('close the partition proxies', closeProxies);
