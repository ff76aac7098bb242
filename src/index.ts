export { Semaphore, type SemaphoreStatus } from './semaphore.js';
export { Mutex } from './mutex.js';
export { Lease } from './lease.js';
export {
  AcquireTimeoutError,
  ClientClosedError,
  ErrorCode,
  LayoutVersionError,
  LeaseLostError,
  NotReplicatedError,
  QueueFullError,
  SemaphoreError,
  WeightExceedsLimitError,
} from './errors.js';
export type { AcquireOptions, MutexOptions, SemaphoreOptions, UseCallback, UseOptions } from './options.js';
export type { Client as RedisClient } from './adapters/index.js';
export type { HolderInfo, WaiterInfo } from './scripts.js';
export {
  type AcquireTraceContext,
  channels,
  type GrantedEvent,
  type LostEvent,
  type PausedEvent,
  type QueuedEvent,
  type ReleasedEvent,
  type ResizedEvent,
  type ResumedEvent,
  type SubscriberEvent,
  type TimeoutEvent,
  tracing,
} from './telemetry.js';
