/**
 * llm-d's ratio rule for pairing engine keys with request keys when the engine's block size differs
 * from the index's (shared reference `kv-events-and-hashing.md` §4.3): with n = max(E, R), engine key
 * ⌊i·E/n⌋ maps to request key ⌊i·R/n⌋ for i < n. Engine blocks 4× the index's give each engine key
 * four request keys; engine blocks 4× smaller give four engine keys the same request key.
 */

/**
 * Visits each engine key once with the contiguous run of request keys it maps to:
 * `visit(engineIndex, firstRequestIndex, requestCount)`.
 */
export function forEachEngineRun(
  engineCount: number,
  requestCount: number,
  visit: (engineIndex: number, firstRequest: number, count: number) => void,
): void {
  if (engineCount === 0 || requestCount === 0) return;
  const n = Math.max(engineCount, requestCount);
  let engine = 0;
  let first = 0;
  let last = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.floor((i * engineCount) / n);
    const r = Math.floor((i * requestCount) / n);
    if (i === 0) {
      engine = e;
      first = last = r;
    } else if (e === engine) {
      last = r;
    } else {
      visit(engine, first, last - first + 1);
      engine = e;
      first = last = r;
    }
  }
  visit(engine, first, last - first + 1);
}
