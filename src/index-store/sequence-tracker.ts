/**
 * Per-publisher sequence bookkeeping for vLLM KV events (shared reference
 * `kv-events-and-hashing.md` §1.3, checklist §6 "Transport"). Sequence numbers are u64 from 0, +1
 * per batch, per publisher process; one ZeroMQ connection delivers them in order, so:
 *
 * - `next`: seq = last + 1 (or the very first message);
 * - `gap`: seq > last + 1 — batches were dropped (HWM overflow, reconnect);
 * - `duplicate`: seq = last — already applied (replay overlap);
 * - `restart`: seq < last — the publisher restarted and counts from 0 again.
 */

export type SequenceVerdict = 'first' | 'next' | 'gap' | 'duplicate' | 'restart';

export class SequenceTracker {
  #last: bigint | null = null;

  /** Last applied sequence number, or null before the first. */
  get last(): bigint | null {
    return this.#last;
  }

  classify(seq: bigint): SequenceVerdict {
    const last = this.#last;
    if (last === null) return 'first';
    if (seq === last + 1n) return 'next';
    if (seq > last) return 'gap';
    if (seq === last) return 'duplicate';
    return 'restart';
  }

  /** Records `seq` as applied. */
  accept(seq: bigint): void {
    this.#last = seq;
  }

  reset(): void {
    this.#last = null;
  }
}
