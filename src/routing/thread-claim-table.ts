/**
 * Placement claims between the acceptor threads of one router (src/routing/placement-claim.ts):
 * the same agreement replicas make through Redis, made synchronously in shared memory.
 *
 * A thread's speculative inserts reach the shared block index a macrotask late, through the index
 * owner; siblings of a prompt accepted by two threads at once are each scheduled inside that gap.
 * The table closes it: the first thread to claim a prompt's new part records where it goes, and
 * the other finds that record before dispatching.
 *
 * Layout: one lock word, then `slots` fixed-size slots (key, expiry, value length, value bytes),
 * open addressing with a short probe. One lock for the whole table: claims happen only for
 * dispatches that compute many new tokens, and the critical section copies at most a few KB.
 * A full probe run or a value too large to store means "decide alone", never an error.
 */
import type { ClaimOutcome, ClaimStore } from './placement-agreement.ts';

/** Slots in a table created with the defaults. */
export const DEFAULT_CLAIM_SLOTS = 512;
/** Largest value stored (bytes of UTF-8 JSON); 64 checkpoints of 64-bit keys fit with room to spare. */
export const MAX_CLAIM_VALUE_BYTES = 3072;
const PROBE = 8;
/** Spins before sleeping on the lock (it is held for microseconds, unless its holder was preempted). */
const LOCK_SPINS = 1_000;
/** Longest wait for the lock: past it the claim is "unavailable" and the thread decides alone. */
const LOCK_WAIT_MS = 20;

// Slot layout, in bytes: key (8), expiresAtMs (8, float), value length (4), padding (4), value.
const KEY = 0;
const EXPIRES = 8;
const LENGTH = 16;
const VALUE = 24;
const SLOT_BYTES = VALUE + MAX_CLAIM_VALUE_BYTES;
/** The lock word sits before the slots, padded to 8 bytes. */
const HEADER_BYTES = 8;

const UNAVAILABLE: ClaimOutcome = { kind: 'unavailable' };
const WON: ClaimOutcome = { kind: 'won' };

/** The claims between one router's acceptor threads, over a SharedArrayBuffer every thread attaches. */
export class ThreadClaimTable implements ClaimStore {
  readonly #lock: Int32Array;
  readonly #view: DataView;
  readonly #bytes: Uint8Array;
  readonly #slots: number;
  readonly #encoder = new TextEncoder();
  readonly #decoder = new TextDecoder();

  private constructor(
    readonly buffer: SharedArrayBuffer,
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {
    this.#lock = new Int32Array(buffer, 0, 1);
    this.#view = new DataView(buffer);
    this.#bytes = new Uint8Array(buffer);
    this.#slots = Math.floor((buffer.byteLength - HEADER_BYTES) / SLOT_BYTES);
  }

  /** A new table (the router creates it and hands `buffer` to every acceptor thread). */
  static create(ttlMs: number, slots = DEFAULT_CLAIM_SLOTS, now: () => number = Date.now): ThreadClaimTable {
    if (!Number.isInteger(slots) || slots < 1)
      throw new RangeError(`claim table slots must be >= 1, got ${slots}`);
    const buffer = new SharedArrayBuffer(HEADER_BYTES + slots * SLOT_BYTES);
    return new ThreadClaimTable(buffer, ttlMs, now);
  }

  /** The table behind `buffer`, from another thread. `now` must be a clock every thread shares. */
  static attach(buffer: SharedArrayBuffer, ttlMs: number, now: () => number = Date.now): ThreadClaimTable {
    if (buffer.byteLength < HEADER_BYTES + SLOT_BYTES) throw new RangeError('claim table buffer too small');
    return new ThreadClaimTable(buffer, ttlMs, now);
  }

  /** Claims `key` under `scope` with `value` unless an unexpired claim is there (then its value). */
  claim(scope: string, key: bigint, value: string): ClaimOutcome {
    const encoded = this.#encoder.encode(value);
    if (encoded.length > MAX_CLAIM_VALUE_BYTES) return UNAVAILABLE;
    const slotKey = scopedKey(scope, key);
    if (!this.#acquire()) return UNAVAILABLE;
    try {
      const nowMs = this.now();
      let free = -1;
      const start = Number(slotKey % BigInt(this.#slots));
      for (let i = 0; i < PROBE; i++) {
        const base = HEADER_BYTES + ((start + i) % this.#slots) * SLOT_BYTES;
        const live = this.#view.getFloat64(base + EXPIRES, true) > nowMs;
        if (live && this.#view.getBigUint64(base + KEY, true) === slotKey) {
          return { kind: 'taken', value: this.#valueAt(base) };
        }
        if (!live && free < 0) free = base;
      }
      if (free < 0) return UNAVAILABLE;
      this.#view.setBigUint64(free + KEY, slotKey, true);
      this.#view.setFloat64(free + EXPIRES, nowMs + this.ttlMs, true);
      this.#view.setUint32(free + LENGTH, encoded.length, true);
      this.#bytes.set(encoded, free + VALUE);
      return WON;
    } finally {
      this.#release();
    }
  }

  /** The value of the first of `keys` under `scope` that stands as a claim, or null. */
  find(scope: string, keys: readonly bigint[]): string | null {
    if (keys.length === 0 || !this.#acquire()) return null;
    try {
      const nowMs = this.now();
      for (const key of keys) {
        const base = this.#slotOf(scopedKey(scope, key), nowMs);
        if (base >= 0) return this.#valueAt(base);
      }
      return null;
    } finally {
      this.#release();
    }
  }

  /** Offset of the live slot holding `slotKey`, or -1. Call with the lock held. */
  #slotOf(slotKey: bigint, nowMs: number): number {
    const start = Number(slotKey % BigInt(this.#slots));
    for (let i = 0; i < PROBE; i++) {
      const base = HEADER_BYTES + ((start + i) % this.#slots) * SLOT_BYTES;
      if (
        this.#view.getFloat64(base + EXPIRES, true) > nowMs &&
        this.#view.getBigUint64(base + KEY, true) === slotKey
      ) {
        return base;
      }
    }
    return -1;
  }

  #valueAt(base: number): string {
    const length = this.#view.getUint32(base + LENGTH, true);
    // Copy out of shared memory: TextDecoder does not read SharedArrayBuffer views.
    return this.#decoder.decode(this.#bytes.slice(base + VALUE, base + VALUE + length));
  }

  #acquire(): boolean {
    for (let i = 0; i < LOCK_SPINS; i++) {
      if (Atomics.compareExchange(this.#lock, 0, 0, 1) === 0) return true;
    }
    // The holder was likely preempted (more threads than cores): sleep until it releases.
    const deadline = performance.now() + LOCK_WAIT_MS;
    while (performance.now() < deadline) {
      Atomics.wait(this.#lock, 0, 1, 1);
      if (Atomics.compareExchange(this.#lock, 0, 0, 1) === 0) return true;
    }
    return false;
  }

  #release(): void {
    Atomics.store(this.#lock, 0, 0);
    Atomics.notify(this.#lock, 0, 1);
  }
}

/** The block key mixed with the scope (model), FNV-1a over the scope's UTF-16 units. */
function scopedKey(scope: string, key: bigint): bigint {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < scope.length; i++) {
    h ^= BigInt(scope.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return (key ^ h) & 0xffffffffffffffffn;
}
