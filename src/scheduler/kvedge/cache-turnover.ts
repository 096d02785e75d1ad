/**
 * How fast each pod's prefix cache turns over, as far as this router's placements drive it.
 *
 * vLLM keeps every computed block cached until it needs the memory, then evicts the least recently
 * used. Every placement writes its uncached prompt tokens and its output into the pod's KV, so a pod
 * that receives more new tokens per token of KV capacity than the rest of the fleet keeps its
 * prefixes for a shorter time: what it holds is evicted younger, and is more likely to be needed
 * again. The picker charges a placement for the excess turnover (`turnoverWeight`, docs/scheduling.md
 * "Cache turnover"), which spreads new prefixes over the fleet's KV instead of over its speed.
 *
 * Written tokens are an exponentially decayed sum (time constant `windowMs`), so the figure is the
 * tokens written over roughly the last window, and stale history fades by itself.
 */

interface Written {
  tokens: number;
  atMs: number;
}

/**
 * What the picker needs of the tokens-written sums. The scheduler state factory provides it
 * (`SchedulerStateFactory.cacheTurnover`) so a router's acceptor threads add up one another's
 * placements: a thread that counted only its own would see 1/n of each pod's writes, and the dead
 * zone, which is in cache-fulls, would swallow the price.
 */
export type CacheTurnoverStore = Pick<CacheTurnover, 'record' | 'tokensWritten' | 'retain'>;

export class CacheTurnover {
  private readonly written = new Map<string, Written>();

  /** @param windowMs time constant of the decayed sum (ms); must be positive. */
  constructor(private readonly windowMs: number) {
    if (!(windowMs > 0)) throw new RangeError(`turnover window must be positive, got ${windowMs}`);
  }

  /** Adds `tokens` written into `endpointId`'s KV at `nowMs`. */
  record(endpointId: string, tokens: number, nowMs: number): void {
    if (!(tokens > 0)) return;
    const entry = this.written.get(endpointId);
    if (!entry) {
      this.written.set(endpointId, { tokens, atMs: nowMs });
      return;
    }
    entry.tokens = this.decayed(entry, nowMs) + tokens;
    entry.atMs = Math.max(entry.atMs, nowMs);
  }

  /** Tokens written into `endpointId`'s KV over roughly the last window, as of `nowMs`. */
  tokensWritten(endpointId: string, nowMs: number): number {
    const entry = this.written.get(endpointId);
    return entry ? this.decayed(entry, nowMs) : 0;
  }

  /** Forgets pods that left the fleet. */
  retain(activeIds: ReadonlySet<string>): void {
    for (const id of this.written.keys()) if (!activeIds.has(id)) this.written.delete(id);
  }

  private decayed(entry: Written, nowMs: number): number {
    const dt = nowMs - entry.atMs;
    return dt > 0 ? entry.tokens * Math.exp(-dt / this.windowMs) : entry.tokens;
  }
}

/**
 * Each candidate's turnover excess: the fraction of its KV capacity written over the window, minus
 * the fleet's (the candidates' total written over their total capacity), floored at 0. It is in
 * "cache-fulls per window" so that it stays near 0 while caches are far from turning over (a
 * few prompts on an idle fleet evict nothing) and grows where LRU eviction actually bites. The first
 * `deadZone` of it is forgiven: a difference of a prompt or two between pods is placement noise,
 * not turnover. Pods of unknown capacity count as the mean known capacity; with none known it is all
 * zeros.
 */
export function turnoverExcess(
  written: readonly number[],
  capacities: readonly (number | null)[],
  deadZone = 0,
): number[] {
  const n = written.length;
  const out = new Array<number>(n).fill(0);
  let known = 0;
  let knownSum = 0;
  for (const c of capacities) {
    if (c !== null && c > 0) {
      known++;
      knownSum += c;
    }
  }
  if (known === 0) return out;
  const mean = knownSum / known;
  const capacity = (i: number): number => {
    const c = capacities[i];
    return c !== null && c !== undefined && c > 0 ? c : mean;
  };
  let totalWritten = 0;
  let totalCapacity = 0;
  for (let i = 0; i < n; i++) {
    totalWritten += written[i] as number;
    totalCapacity += capacity(i);
  }
  if (!(totalWritten > 0)) return out;
  const fleet = totalWritten / totalCapacity;
  for (let i = 0; i < n; i++) out[i] = Math.max(0, (written[i] as number) / capacity(i) - fleet - deadZone);
  return out;
}
