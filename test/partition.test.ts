/**
 * The partition proxy itself (test/helpers/partition.ts), against a real Redis: raw
 * connections speaking inline commands, so that every byte the proxy passes, holds or
 * loses shows in what the client reads. Timing is asserted only as "not before".
 */
import { once } from 'node:events';
import { connect as dial } from 'node:net';
import { performance } from 'node:perf_hooks';
import test from 'ava';
import { eventually } from './helpers/eventually.js';
import { type PartitionProxy, startProxy } from './helpers/partition.js';
import { connect, redisUrl, uniqueKey } from './helpers/redis.js';

/** A connection on `port` that sends inline commands and keeps every byte it reads. */
async function rawConnection(port: number) {
  const socket = dial({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  let text = '';
  const errors: string[] = [];
  socket.on('data', (data: Buffer) => {
    text += data.toString();
  });
  socket.on('error', (error: NodeJS.ErrnoException) => errors.push(String(error.code)));
  return {
    /** Bytes written, for waiting until the proxy has them all. */
    sent: 0,
    send(command: string) {
      this.sent += command.length + 2;
      socket.write(`${command}\r\n`);
    },
    get text() {
      return text;
    },
    errors,
    /** Resolves once what was read ends with `tail`. */
    until: (tail: string) =>
      eventually(
        async () => text,
        (read) => read.endsWith(tail),
        { within: 10_000 },
      ),
    socket,
  };
}

async function redisPort(): Promise<number> {
  return Number(new URL(await redisUrl()).port);
}

/**
 * A round trip to Redis on a connection of its own, past the proxy: bytes the proxy had
 * passed before it would have reached their reader by the time it returns.
 */
async function roundTrip(): Promise<void> {
  const direct = await rawConnection(await redisPort());
  direct.send('PING');
  await direct.until('+PONG\r\n');
  direct.socket.destroy();
}

/** Resolves once the proxy has received `bytes` from clients in all. */
function upstreamHas(proxy: PartitionProxy, bytes: number) {
  return eventually(
    async () => proxy.received.up,
    (n) => n >= bytes,
    { within: 10_000 },
  );
}

test('held: no reply before the heal, then every reply, in order', async (t) => {
  const proxy = await startProxy(await redisPort());
  const client = await rawConnection(proxy.port);
  proxy.hold();
  client.send('PING');
  client.send('ECHO one');
  await upstreamHas(proxy, client.sent);
  await roundTrip();
  t.is(client.text, '', 'nothing came back while held');
  proxy.heal();
  await client.until('$3\r\none\r\n');
  t.is(client.text, '+PONG\r\n$3\r\none\r\n');
});

test('heal one direction first: a command runs at heal("up"), its reply arrives only at heal("down")', async (t) => {
  const proxy = await startProxy(await redisPort());
  const client = await rawConnection(proxy.port);
  const key = uniqueKey('half-heal');
  proxy.hold();
  client.send(`INCR ${key}`);
  await upstreamHas(proxy, client.sent);
  const replied = proxy.next('down');
  proxy.heal('up');
  // The reply has reached the proxy, so Redis ran the command; the client has heard nothing.
  await replied;
  t.is(await (await connect()).get(key), '1');
  await roundTrip();
  t.is(client.text, '');
  proxy.heal('down');
  await client.until(':1\r\n');
  t.is(client.text, ':1\r\n');
});

test('dropped: a reply lost on the way never arrives, though Redis ran the command', async (t) => {
  const proxy = await startProxy(await redisPort());
  const client = await rawConnection(proxy.port);
  const key = uniqueKey('dropped');
  proxy.drop('down');
  const lost = proxy.next('down');
  client.send(`INCR ${key}`);
  await lost;
  proxy.heal();
  client.send(`GET ${key}`);
  await client.until('$1\r\n1\r\n');
  t.is(client.text, '$1\r\n1\r\n', "only the reply sent after the heal: the INCR's was lost");
});

test('dropped both ways: a command lost on the way never runs', async (t) => {
  const proxy = await startProxy(await redisPort());
  const client = await rawConnection(proxy.port);
  const key = uniqueKey('dropped-up');
  proxy.drop();
  client.send(`INCR ${key}`);
  await upstreamHas(proxy, client.sent);
  proxy.heal();
  client.send(`EXISTS ${key}`);
  await client.until(':0\r\n');
  t.is(client.text, ':0\r\n');
});

test('delayed: each direction adds its delay, and a chunk never overtakes one sent before it', async (t) => {
  const proxy = await startProxy(await redisPort());
  const client = await rawConnection(proxy.port);
  proxy.delay(150);
  const sentAt = performance.now();
  client.send('PING');
  await client.until('+PONG\r\n');
  t.true(performance.now() - sentAt >= 300, 'the reply came no sooner than both delays allow');
  // Delivered late, then passed at once: the later command still waits behind the earlier one.
  proxy.delay(200, 'up');
  client.send('ECHO first');
  await upstreamHas(proxy, client.sent);
  proxy.heal();
  client.send('ECHO second');
  await client.until('$6\r\nsecond\r\n');
  t.is(client.text, '+PONG\r\n$5\r\nfirst\r\n$6\r\nsecond\r\n');
});

test('a connection opened during a hold is held too', async (t) => {
  const proxy = await startProxy(await redisPort());
  proxy.hold();
  const client = await rawConnection(proxy.port);
  client.send('PING');
  await upstreamHas(proxy, client.sent);
  await roundTrip();
  t.is(client.text, '');
  t.is(proxy.connections.length, 1);
  proxy.heal();
  await client.until('+PONG\r\n');
  t.is(client.text, '+PONG\r\n');
});

test('reset: every connection sees ECONNRESET at once; a client reconnects through the proxy', async (t) => {
  const proxy = await startProxy(await redisPort());
  const raw = await rawConnection(proxy.port);
  const redis = await connect(proxy.url);
  t.is(await redis.ping(), 'PONG');
  const errors: string[] = [];
  redis.on('error', (error: NodeJS.ErrnoException) => errors.push(String(error.code)));
  // Not events.once(): it rejects on the 'error' this test expects.
  const closed = new Promise((resolve) => redis.once('close', resolve));
  const rawClosed = new Promise((resolve) => raw.socket.once('close', resolve));
  t.is(proxy.connections.length, 2);
  proxy.reset();
  await Promise.all([closed, rawClosed]);
  t.deepEqual(raw.errors, ['ECONNRESET']);
  t.deepEqual(errors, ['ECONNRESET']);
  // A new connection, accepted and passed: the modes are the proxy's, and it was passing.
  t.is(await redis.ping(), 'PONG');
  t.is(proxy.connections.length, 1);
});
