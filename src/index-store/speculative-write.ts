/**
 * The message a reader thread posts to the owner to record a speculative entry: readers never
 * write the shared table themselves (a single writer is what makes lock-free reads sound).
 */

export interface SpeculativeWrite {
  readonly podId: string;
  readonly keys: BigUint64Array;
  readonly ttlMs: number;
}

export function isSpeculativeWrite(message: unknown): message is SpeculativeWrite {
  if (typeof message !== 'object' || message === null) return false;
  const m = message as Partial<SpeculativeWrite>;
  return (
    typeof m.podId === 'string' &&
    m.keys instanceof BigUint64Array &&
    typeof m.ttlMs === 'number' &&
    Number.isFinite(m.ttlMs) &&
    m.ttlMs > 0
  );
}
