/**
 * A routing thread's own speculative inserts, readable at once.
 *
 * The precise index has one writer, the owner; a routing thread posts its speculative inserts to it
 * over a channel, and they land a macrotask or two later. The siblings of a prompt (parallel
 * samples, fan-out) reach the scheduler back to back, inside that gap, so without this overlay the
 * second sibling cannot see where the first was just sent and is placed as if the prompt were new.
 * The overlay keeps each insert for `holdMs` (long past the owner's apply, far shorter than the
 * speculative TTL the owner keeps) and merges it into lookups: read-your-writes for one thread.
 */
import { performance } from 'node:perf_hooks';

interface Entry {
  readonly podId: string;
  readonly keys: readonly bigint[];
  readonly expiresAtMs: number;
}

/** How long an insert stays readable locally by default (ms). */
export const DEFAULT_OVERLAY_HOLD_MS = 250;

export class SpeculativeOverlay {
  /** Entries by their first block key: only prompts that share block 0 can match. */
  readonly #byFirstKey = new Map<bigint, Entry[]>();
  /** Every entry in insertion (= expiry) order, for sweeping. */
  readonly #queue: Entry[] = [];
  #head = 0;

  constructor(
    private readonly holdMs: number = DEFAULT_OVERLAY_HOLD_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Records that `podId` was just sent a prompt with `keys`, for at most `ttlMs`. */
  record(podId: string, keys: readonly bigint[], ttlMs: number = this.holdMs): void {
    const first = keys[0];
    if (first === undefined) return;
    const nowMs = this.now();
    this.sweep(nowMs);
    const entry: Entry = { podId, keys: [...keys], expiresAtMs: nowMs + Math.min(ttlMs, this.holdMs) };
    const bucket = this.#byFirstKey.get(first);
    if (bucket) bucket.push(entry);
    else this.#byFirstKey.set(first, [entry]);
    this.#queue.push(entry);
  }

  /**
   * Raises `matches` (endpoint id → consecutive blocks from block 0) to what the overlay holds for
   * `keys`, for the endpoints in `endpointIds`.
   */
  merge(keys: readonly bigint[], endpointIds: readonly string[], matches: Map<string, number>): void {
    const first = keys[0];
    if (first === undefined) return;
    const nowMs = this.now();
    this.sweep(nowMs);
    const bucket = this.#byFirstKey.get(first);
    if (!bucket) return;
    for (const entry of bucket) {
      if (entry.expiresAtMs <= nowMs || !endpointIds.includes(entry.podId)) continue;
      const limit = Math.min(keys.length, entry.keys.length);
      let run = 0;
      while (run < limit && keys[run] === entry.keys[run]) run++;
      if (run > (matches.get(entry.podId) ?? 0)) matches.set(entry.podId, run);
    }
  }

  /** Entries currently held (for tests and metrics). */
  get size(): number {
    return this.#queue.length - this.#head;
  }

  private sweep(nowMs: number): void {
    while (this.#head < this.#queue.length) {
      const entry = this.#queue[this.#head] as Entry;
      if (entry.expiresAtMs > nowMs) break;
      this.#head++;
      const first = entry.keys[0] as bigint;
      const bucket = this.#byFirstKey.get(first);
      if (bucket) {
        const i = bucket.indexOf(entry);
        if (i >= 0) bucket.splice(i, 1);
        if (bucket.length === 0) this.#byFirstKey.delete(first);
      }
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
  }
}
