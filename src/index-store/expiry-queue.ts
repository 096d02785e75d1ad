/**
 * FIFO of speculative entries awaiting expiry, so the owner's sweep visits only the keys whose
 * speculation may have ended instead of scanning the table. Readers already ignore expired entries;
 * the sweep exists to give their slots back.
 *
 * Bounded ring of (key low, key high, expiry tick); when full the oldest item is dropped, and its
 * slot is then reclaimed by the table's incremental compaction instead. Items are in insertion
 * order, which is expiry order as long as TTLs are equal; a longer TTL ahead in the queue only
 * delays the sweep of shorter ones behind it.
 */
import { tickAlive } from './slot-word.ts';

const WORDS = 3;

export class ExpiryQueue {
  readonly #ring: Uint32Array;
  readonly #capacity: number;
  #head = 0;
  #size = 0;
  dropped = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`invalid expiry queue size ${capacity}`);
    this.#capacity = capacity;
    this.#ring = new Uint32Array(capacity * WORDS);
  }

  get size(): number {
    return this.#size;
  }

  get byteLength(): number {
    return this.#ring.byteLength;
  }

  push(lo: number, hi: number, expiryTick: number): void {
    if (this.#size === this.#capacity) {
      this.#head = (this.#head + 1) % this.#capacity;
      this.#size--;
      this.dropped++;
    }
    const at = ((this.#head + this.#size) % this.#capacity) * WORDS;
    this.#ring[at] = lo;
    this.#ring[at + 1] = hi;
    this.#ring[at + 2] = expiryTick;
    this.#size++;
  }

  /** Pops every item expired at `nowTick` (stopping at the first live one); returns how many. */
  drain(nowTick: number, onExpired: (lo: number, hi: number) => void): number {
    let count = 0;
    while (this.#size > 0) {
      const at = this.#head * WORDS;
      if (tickAlive(this.#ring[at + 2]!, nowTick)) break;
      onExpired(this.#ring[at]!, this.#ring[at + 1]!);
      this.#head = (this.#head + 1) % this.#capacity;
      this.#size--;
      count++;
    }
    return count;
  }

  clear(): void {
    this.#head = 0;
    this.#size = 0;
  }
}
