/** Everything one benchmark run measured, per workload and library. */
import type { LibId } from './protocol.js';
import type { ContendFigures } from './workloads/contended.js';
import type { DepthFigures } from './workloads/deep-queue.js';
import type { IdleFigures } from './workloads/idle.js';
import type { MarginFigures } from './workloads/margin.js';
import type { ManyFigures } from './workloads/many-keys.js';
import type { OpenFigures } from './workloads/open-loop.js';
import type { FloorFigures } from './workloads/publish-floor.js';
import type { SoloFigures } from './workloads/solo.js';

/** A run that failed or timed out stays in the results, with its error. */
export type Outcome<T> = { ok: true; value: T; seconds: number } | { ok: false; error: string; seconds: number };

/** A library the workload does not apply to (redlock has no semaphore) has no entry. */
export type PerLib<T> = Partial<Record<LibId, Outcome<T>>>;

export type Results = {
  solo: PerLib<SoloFigures>;
  mutex: PerLib<ContendFigures>;
  semaphore: PerLib<ContendFigures>;
  deep: PerLib<DepthFigures[]>;
  idle: PerLib<IdleFigures>;
  many: PerLib<ManyFigures>;
  /** One figure per load level, in the order of cfg.open.loads. */
  open: PerLib<OpenFigures[]>;
  /** W8: the holder's margin under partitions. */
  margin: PerLib<MarginFigures>;
  /** The bare PUBLISH floor: no library involved; absent when neither W2 nor W3 ran. */
  publish?: Outcome<FloorFigures>;
};

export function value<T>(o: Outcome<T> | undefined): T | undefined {
  return o?.ok ? o.value : undefined;
}
