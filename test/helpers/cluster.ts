/**
 * A real Redis Cluster on loopback for the tests: three masters started from PATH and
 * joined with `redis-cli --cluster create`. Stopped when the test file ends. With
 * proxyCluster(), a client of its own reaches every node through a partition proxy.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { Cluster, type ClusterOptions, Redis } from 'ioredis';
import type { RedisClient } from '../../src/index.js';
import { eventually } from './eventually.js';
import { fromEnv, type NodeRedis, nodeRedis } from './node-redis.js';
import { type Partition, type PartitionProxy, startProxy, together } from './partition.js';
import { freePort, type RedisServer, startRedisProcess } from './redis-server.js';
import { replicaLinked } from './replication.js';

const run = promisify(execFile);

export type LocalCluster = {
  readonly nodes: readonly RedisServer[];
  readonly startupNodes: readonly { host: string; port: number }[];
  /** An ioredis Cluster client: for the test's own commands, or tests about ioredis itself. */
  connect(options?: import('ioredis').ClusterOptions): Cluster;
  /** A connected cluster client for the library under test: ioredis, or node-redis when RFS_CLIENT names it. */
  connectLibrary(): Promise<RedisClient>;
};

const started: RedisServer[] = [];
const clients: Cluster[] = [];
test.after.always('stop the cluster', async () => {
  for (const client of clients) client.disconnect();
  await Promise.all(started.splice(0).map((s) => s.stop()));
});

/** `replicas` per master; a short node timeout lets a killed master fail over in about a second. */
export async function startCluster(masters = 3, replicas = 0): Promise<LocalCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'rfs-cluster-'));
  const nodes: RedisServer[] = [];
  for (let i = 0; i < masters * (1 + replicas); i++) {
    // The bus port is chosen too: port + 10000 may lie past 65535 for a high free port.
    const node = await startRedisProcess([
      '--cluster-enabled',
      'yes',
      '--cluster-port',
      String(await freePort()),
      '--cluster-config-file',
      join(dir, `nodes-${i}.conf`),
      '--dir',
      dir,
      '--cluster-node-timeout',
      '1000',
    ]);
    nodes.push(node);
    started.push(node);
  }
  await run('redis-cli', [
    '--cluster',
    'create',
    ...nodes.map((n) => `127.0.0.1:${n.port}`),
    '--cluster-replicas',
    String(replicas),
    '--cluster-yes',
  ]);
  // Every node must agree before clients see a stable slot map.
  for (const node of nodes) await clusterOk(node.port);
  if (replicas > 0) {
    // Every node must list the replicas, and they must have synced, before a failover can keep anything.
    const [ranges] = await Promise.all(nodes.map((node) => slotsWithReplicas(node.port, replicas)));
    for (const [, port] of ranges!.flatMap(([, , , ...replicaNodes]) => replicaNodes)) {
      const replica = new Redis(port);
      await replicaLinked(replica);
      replica.disconnect();
    }
  }
  const startupNodes = nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
  const connect = (options: import('ioredis').ClusterOptions = {}) => {
    const client = new Cluster(startupNodes as { host: string; port: number }[], options);
    client.on('error', () => {});
    clients.push(client);
    return client;
  };
  return {
    nodes,
    startupNodes,
    connect,
    async connectLibrary() {
      const v = fromEnv();
      return v ? v.connectCluster(startupNodes) : connect();
    },
  };
}

let shared: Promise<LocalCluster> | undefined;

/** The cluster this test file's tests share (each uses its own keys): started on first use. */
export function sharedCluster(): Promise<LocalCluster> {
  shared ??= startCluster();
  return shared;
}

/** Resolves once the node on `port` says `cluster_state:ok`: a node (re)joining a cluster tells no client. */
export async function clusterOk(port: number): Promise<void> {
  const node = new Redis(port);
  try {
    const ok = (info: string) => info.includes('cluster_state:ok');
    const info = await eventually(async () => String(await node.cluster('INFO')), ok, { within: 30_000, every: 100 });
    if (!ok(info)) throw new Error(`node ${port} never said cluster_state:ok; it said:\n${info}`);
  } finally {
    node.disconnect();
  }
}

/** The node on `port`'s `CLUSTER SLOTS`, once it lists `replicas` replicas for every range. */
async function slotsWithReplicas(port: number, replicas: number) {
  const node = new Redis(port);
  try {
    const listed = (ranges: readonly unknown[][]) => ranges.every((range) => range.length >= 3 + replicas);
    const ranges = await eventually(() => node.cluster('SLOTS'), listed, { within: 10_000, every: 100 });
    if (!listed(ranges)) throw new Error(`node ${port} lists too few replicas: ${JSON.stringify(ranges)}`);
    return ranges;
  } finally {
    node.disconnect();
  }
}

/** The `CLUSTER SLOTS` entry serving `key`: [from, to, master, ...replicas], each node as [host, port, id]. */
export async function slotOf(c: LocalCluster, key: string) {
  const probe = new Redis(c.nodes[0]!.port);
  try {
    const slot = Number(await probe.cluster('KEYSLOT', key));
    const range = (await probe.cluster('SLOTS')).find(([from, to]) => slot >= from && slot <= to);
    if (!range) throw new Error(`no node serves slot ${slot}`);
    return { slot, range };
  } finally {
    probe.disconnect();
  }
}

export type ProxiedCluster = {
  /** One per node of the cluster, in the order of its `nodes`. */
  readonly proxies: readonly PartitionProxy[];
  /** Every proxy at once. */
  readonly partition: Partition;
  /** The proxies, as a client's startup (root) nodes: it never contacts a node directly, even to reconnect. */
  readonly startupNodes: readonly { host: string; port: number }[];
  /**
   * Each node's own address ('127.0.0.1:<port>', as the nodes announce it) to its
   * proxy's: ioredis's `natMap` and node-redis's `nodeAddressMap` take this shape.
   */
  readonly addressMap: Readonly<Record<string, { host: string; port: number }>>;
  /** An ioredis Cluster through the proxies, closed when the test file ends. */
  connectIoredis(options?: ClusterOptions): Cluster;
  /** A connected node-redis cluster through the proxies (v6 unless told), closed when the test file ends. */
  connectNodeRedis(v?: NodeRedis): Promise<RedisClient>;
};

/** A proxy in front of every node of `c`: its own, so a test partitions its client only. */
export async function proxyCluster(c: LocalCluster): Promise<ProxiedCluster> {
  const members = await Promise.all(c.nodes.map((node) => startProxy(node.port)));
  const startupNodes = members.map((p) => ({ host: '127.0.0.1', port: p.port }));
  const addressMap = Object.fromEntries(c.nodes.map((node, i) => [`127.0.0.1:${node.port}`, startupNodes[i]!]));
  return {
    proxies: members,
    partition: together(members),
    startupNodes,
    addressMap,
    connectIoredis(options = {}) {
      // The wake-up subscriber is a duplicate(): it keeps these startup nodes and this map.
      const client = new Cluster(startupNodes, { ...options, natMap: addressMap });
      client.on('error', () => {});
      clients.push(client);
      return client;
    },
    connectNodeRedis: (v = nodeRedis[0]!) => v.connectCluster(startupNodes, { nodeAddressMap: addressMap }),
  };
}
