/**
 * The bare PUBLISH floor: one process's PUBLISH call → another process's subscriber
 * hearing it, with the subscriber asleep between messages as a waiting lock client is.
 * A push handoff cannot beat it; W2/W3's handoff targets are set against it.
 */
import type { Ctx } from '../context.js';
import type { HeardResult } from '../protocol.js';
import { max, percentile } from '../stats.js';

/** Latencies (ms) of one round: with the configured idle gaps, and with brisk ones. */
export type FloorRound = { idle: number[]; brisk: number[] };

export type FloorFigures = {
  messages: number;
  p50: number;
  p99: number;
  max: number;
  /** The same with 1–2 ms between messages: how much of the floor is waking from a longer sleep. */
  briskP50: number;
  briskP99: number;
};

let channels = 0;

async function latencies(ctx: Ctx, count: number, gapMs: readonly [number, number]): Promise<number[]> {
  const [subscriber, publisher] = ctx.pool.take(2);
  const channel = `bench-floor-${process.pid}-${++channels}`;
  await subscriber!.call({ op: 'listen', channel }, 30_000);
  await publisher!.call({ op: 'publish', channel, count, gapMs }, count * gapMs[1] + 30_000);
  const heard = await subscriber!.call<HeardResult>({ op: 'heard', count }, 30_000);
  return heard.latencies;
}

export async function floorRound(ctx: Ctx): Promise<FloorRound> {
  const { messages, idleGapMs, briskGapMs } = ctx.cfg.publish;
  return { idle: await latencies(ctx, messages, idleGapMs), brisk: await latencies(ctx, messages, briskGapMs) };
}

export function floorFigures(rounds: readonly FloorRound[]): FloorFigures {
  const idle = rounds.flatMap((r) => r.idle);
  const brisk = rounds.flatMap((r) => r.brisk);
  return {
    messages: idle.length,
    p50: percentile(idle, 0.5),
    p99: percentile(idle, 0.99),
    max: max(idle),
    briskP50: percentile(brisk, 0.5),
    briskP99: percentile(brisk, 0.99),
  };
}
