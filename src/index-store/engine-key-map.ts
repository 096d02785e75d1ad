/**
 * Engine key → request keys, per pod (shared reference `kv-events-and-hashing.md` §4.3): resolves
 * `BlockRemoved` hashes and `parent_block_hash` to kvedge's request keys. Only the owner thread
 * uses it, so it lives in ordinary memory.
 *
 * One engine key maps to several request keys when the engine's block is larger than the index's
 * (engine 64 tokens, index 16: four keys). Each mapped key is its own entry, keyed by
 * (pod, engine key, ordinal), the entry of the last ordinal flagged; entries of one engine key are
 * found by walking ordinals from 0 to the flagged one.
 *
 * Set-associative like the key table (8 entries per set, no tombstones), 20 bytes per entry plus a
 * 4-byte age. A full set replaces a dead entry (its pod was cleared since), else its oldest entry;
 * a lost mapping only means that a later removal or continuation of that block is not resolved
 * (counted by the index and the ingestor).
 *
 * ```
 * word 0, 1   engine key low, high
 * word 2, 3   request key low, high
 * word 4      pod+1 (bits 0..9) | ordinal (10..14) | last (15) | pod generation mod 2^16 (16..31)
 * ```
 */
import { GEN_MASK } from './slot-word.ts';

const WAYS = 8;
const WORDS = 5;
/** Most request keys one engine key can map to (engine block size / index block size). */
export const MAX_KEYS_PER_ENGINE_KEY = 32;
const LAST_BIT = 0x8000;

export class EngineKeyMap {
  readonly #sets: number;
  readonly #entries: Uint32Array;
  readonly #age: Uint32Array;
  readonly #gen: (pod: number) => number;
  #clock = 0;
  /** Live-or-stale entries held. */
  size = 0;
  evicted = 0;

  /**
   * @param capacity entries (rounded up to a multiple of 8).
   * @param gen current generation of a pod index; entries of older generations are dead.
   */
  constructor(capacity: number, gen: (pod: number) => number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`invalid engine map capacity ${capacity}`);
    this.#sets = Math.ceil(capacity / WAYS);
    this.#entries = new Uint32Array(this.#sets * WAYS * WORDS);
    this.#age = new Uint32Array(this.#sets * WAYS);
    this.#gen = gen;
  }

  get capacity(): number {
    return this.#sets * WAYS;
  }

  get byteLength(): number {
    return this.#entries.byteLength + this.#age.byteLength;
  }

  /**
   * Maps (pod, engine key) to the request keys `halves[2·first …]` .. `halves[2·(first+count-1) …]`,
   * replacing any previous mapping of that engine key for the pod.
   */
  set(pod: number, engLo: number, engHi: number, halves: Uint32Array, first: number, count: number): void {
    const n = Math.min(count, MAX_KEYS_PER_ENGINE_KEY);
    const gen = this.#gen(pod) & GEN_MASK;
    for (let ordinal = 0; ordinal < n; ordinal++) {
      const tag = (pod + 1) | (ordinal << 10) | (ordinal === n - 1 ? LAST_BIT : 0) | (gen << 16);
      const e = this.#claim(pod, engLo, engHi, ordinal);
      const at = e * WORDS;
      const entries = this.#entries;
      entries[at] = engLo;
      entries[at + 1] = engHi;
      entries[at + 2] = halves[2 * (first + ordinal)]!;
      entries[at + 3] = halves[2 * (first + ordinal) + 1]!;
      entries[at + 4] = tag >>> 0;
      this.#age[e] = ++this.#clock;
    }
  }

  /**
   * Appends the request keys (as halves) `(pod, engine key)` maps to onto `out`; returns how many.
   * A mapping that lost an entry to eviction yields the keys up to the gap.
   */
  collect(pod: number, engLo: number, engHi: number, out: number[]): number {
    let count = 0;
    for (let ordinal = 0; ordinal < MAX_KEYS_PER_ENGINE_KEY; ordinal++) {
      const e = this.#find(pod, engLo, engHi, ordinal);
      if (e < 0) break;
      const at = e * WORDS;
      out.push(this.#entries[at + 2]!, this.#entries[at + 3]!);
      count++;
      if ((this.#entries[at + 4]! & LAST_BIT) !== 0) break;
    }
    return count;
  }

  /** Deletes every entry of (pod, engine key). */
  delete(pod: number, engLo: number, engHi: number): void {
    for (let ordinal = 0; ordinal < MAX_KEYS_PER_ENGINE_KEY; ordinal++) {
      const e = this.#find(pod, engLo, engHi, ordinal);
      if (e < 0) break;
      const last = (this.#entries[e * WORDS + 4]! & LAST_BIT) !== 0;
      this.#entries.fill(0, e * WORDS, e * WORDS + WORDS);
      this.size--;
      if (last) break;
    }
  }

  /** Deletes every entry of a pod (O(capacity)); used when its generation counter wraps. */
  purgePod(pod: number): void {
    const entries = this.#entries;
    for (let at = 0; at < entries.length; at += WORDS) {
      if (entries[at + 4] !== 0 && (entries[at + 4]! & 0x3ff) === pod + 1) {
        entries.fill(0, at, at + WORDS);
        this.size--;
      }
    }
  }

  #find(pod: number, engLo: number, engHi: number, ordinal: number): number {
    const entries = this.#entries;
    const base = this.#setOf(pod, engLo, engHi, ordinal) * WAYS;
    const want = (pod + 1) | (ordinal << 10) | ((this.#gen(pod) & GEN_MASK) << 16);
    for (let e = base; e < base + WAYS; e++) {
      const at = e * WORDS;
      if (
        entries[at] === engLo &&
        entries[at + 1] === engHi &&
        (entries[at + 4]! & ~LAST_BIT) >>> 0 === want >>> 0
      ) {
        return e;
      }
    }
    return -1;
  }

  /** Entry to write (pod, engine key, ordinal) into: its current one, a free one, a dead one, the oldest. */
  #claim(pod: number, engLo: number, engHi: number, ordinal: number): number {
    const found = this.#find(pod, engLo, engHi, ordinal);
    if (found >= 0) return found;
    const entries = this.#entries;
    const base = this.#setOf(pod, engLo, engHi, ordinal) * WAYS;
    let oldest = base;
    for (let e = base; e < base + WAYS; e++) {
      const tag = entries[e * WORDS + 4]!;
      if (tag === 0) {
        this.size++;
        return e;
      }
      const entryPod = (tag & 0x3ff) - 1;
      if (tag >>> 16 !== (this.#gen(entryPod) & GEN_MASK)) return e;
      if (this.#age[e]! < this.#age[oldest]!) oldest = e;
    }
    this.evicted++;
    return oldest;
  }

  #setOf(pod: number, engLo: number, engHi: number, ordinal: number): number {
    let h =
      (engLo ^
        Math.imul(engHi, 0x9e3779b1) ^
        Math.imul(pod + 1, 0x85ebca6b) ^
        Math.imul(ordinal, 0x27d4eb2f)) >>>
      0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h = (h ^ (h >>> 16)) >>> 0;
    return Math.floor((h * this.#sets) / 4294967296);
  }
}
