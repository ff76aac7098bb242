/** The `type` of every warning this library emits (process.emitWarning): filter on it. */
export const warningType = 'SemaphoreWarning';

/** One code per situation, stable across versions: `RFS_EVICTION_POLICY`, `RFS_PERMITS_MISMATCH`. */
export type WarningCode = 'RFS_EVICTION_POLICY' | 'RFS_PERMITS_MISMATCH';

export function warn(code: WarningCode, message: string): void {
  process.emitWarning(message, { type: warningType, code });
}
