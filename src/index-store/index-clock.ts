/**
 * The clock owner and readers share for speculative expiries: absolute milliseconds, comparable
 * across threads (each worker's `performance.now()` has its own origin, `timeOrigin` corrects it).
 */
export function defaultClock(): number {
  return performance.timeOrigin + performance.now();
}
