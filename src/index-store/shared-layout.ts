/**
 * Memory layout of the in-memory block index, shared between the owner thread (the only writer)
 * and any number of reader threads.
 *
 * Two SharedArrayBuffers:
 *
 * `table` — a set-associative hash table of request keys: `sets × WAYS` records, a key lives in one
 * of the WAYS records of the set its hash selects, and never moves. With no probing across sets
 * there are no tombstones: deleting a record just empties it, and a full set evicts one of its own
 * records (the owner's policy, see key-table-writer.ts). Each set is one block of 32-bit words:
 *
 * ```
 * [key lo, key hi] × WAYS          the set's keys, one 64-byte cache line; (0, 0) = empty record
 * [seq, slot 0 … slot S-1] × WAYS  per record: its seqlock (odd while the owner writes it) and its
 *                                  pod entries (slot-word.ts), packed from slot 0 in insertion order
 * ```
 *
 * i.e. 12 + 4·S bytes per key (44 with the default S = 8). A lookup touches the set's key line and
 * the one line (or two) holding its record — random accesses into a large table are cache misses,
 * so this, not instruction count, is what a lookup costs.
 *
 * `pods` — the pod directory: a version seqlock, and per pod index a generation counter, the UTF-8
 * length of its id (0 = free) and the id bytes. Readers re-read the names when the version moves.
 */

import { MAX_PODS } from './slot-word.ts';

/** Records per set (the shifts and masks in keyOffset/seqOffset assume 8). */
export const WAYS = 8;
const MAGIC = 0x6b766978; // "kvix"
const LAYOUT_VERSION = 2;

const TABLE_HEADER_BYTES = 128;
const H_MAGIC = 0;
const H_VERSION = 1;
const H_SETS = 2;
const H_SLOTS = 3;
const H_MAX_PODS = 4;
const H_POD_ID_BYTES = 5;
/** Float64 index of the epoch inside the header. */
const HF_EPOCH = 8;
/** Float64 index of the first tier weight (4 of them). */
const HF_WEIGHTS = 9;

const POD_HEADER_BYTES = 64;
/** Int32 index of the pod directory's version seqlock. */
export const P_VERSION = 0;

/** The buffers a reader thread needs; plain data, transferable with `postMessage`/`workerData`. */
export interface MemoryIndexBuffers {
  readonly table: SharedArrayBuffer;
  readonly pods: SharedArrayBuffer;
}

export interface LayoutParams {
  readonly sets: number;
  readonly slotsPerKey: number;
  readonly maxPods: number;
  readonly podIdBytes: number;
  readonly epochMs: number;
  readonly tierWeights: Float64Array;
}

/** Typed-array views over the shared buffers. */
export class SharedLayout {
  readonly buffers: MemoryIndexBuffers;
  readonly sets: number;
  readonly capacity: number;
  readonly slotsPerKey: number;
  readonly maxPods: number;
  readonly podIdBytes: number;
  readonly epochMs: number;
  readonly tierWeights: Float64Array;
  /** The table's sets, laid out as described above. */
  readonly words: Uint32Array;
  /** Words per set. */
  readonly setWords: number;
  /** Words per record after the key block: seq + slots. */
  readonly recordWords: number;
  /** Pod directory header (version seqlock). */
  readonly podHeader: Int32Array;
  readonly podGen: Int32Array;
  readonly podNameLength: Int32Array;
  readonly podNames: Uint8Array;

  private constructor(buffers: MemoryIndexBuffers) {
    const { table, pods } = buffers;
    const header = new Int32Array(table, 0, TABLE_HEADER_BYTES / 4);
    if (header[H_MAGIC] !== MAGIC || header[H_VERSION] !== LAYOUT_VERSION) {
      throw new TypeError('not a kvedge memory block index buffer (or another layout version)');
    }
    const floats = new Float64Array(table, 0, TABLE_HEADER_BYTES / 8);
    this.buffers = buffers;
    this.sets = header[H_SETS]!;
    this.capacity = this.sets * WAYS;
    this.slotsPerKey = header[H_SLOTS]!;
    this.maxPods = header[H_MAX_PODS]!;
    this.podIdBytes = header[H_POD_ID_BYTES]!;
    this.epochMs = floats[HF_EPOCH]!;
    this.tierWeights = floats.slice(HF_WEIGHTS, HF_WEIGHTS + 4);

    this.recordWords = 1 + this.slotsPerKey;
    this.setWords = WAYS * (2 + this.recordWords);
    this.words = new Uint32Array(table, TABLE_HEADER_BYTES, this.sets * this.setWords);

    this.podHeader = new Int32Array(pods, 0, POD_HEADER_BYTES / 4);
    let offset = POD_HEADER_BYTES;
    this.podGen = new Int32Array(pods, offset, this.maxPods);
    offset += this.maxPods * 4;
    this.podNameLength = new Int32Array(pods, offset, this.maxPods);
    offset += this.maxPods * 4;
    this.podNames = new Uint8Array(pods, offset, this.maxPods * this.podIdBytes);
  }

  /** Allocates and initialises fresh buffers. */
  static create(params: LayoutParams): SharedLayout {
    const { sets, slotsPerKey, maxPods, podIdBytes } = params;
    if (!Number.isInteger(sets) || sets < 1) throw new RangeError(`invalid set count ${sets}`);
    if (!Number.isInteger(slotsPerKey) || slotsPerKey < 1 || slotsPerKey > 32) {
      throw new RangeError(`slotsPerKey must be an integer in 1..32, got ${slotsPerKey}`);
    }
    if (!Number.isInteger(maxPods) || maxPods < 1 || maxPods > MAX_PODS) {
      throw new RangeError(`maxPods must be an integer in 1..${MAX_PODS}, got ${maxPods}`);
    }
    if (!Number.isInteger(podIdBytes) || podIdBytes < 1)
      throw new RangeError(`invalid podIdBytes ${podIdBytes}`);
    const capacity = sets * WAYS;
    const table = new SharedArrayBuffer(TABLE_HEADER_BYTES + capacity * (12 + 4 * slotsPerKey));
    const pods = new SharedArrayBuffer(POD_HEADER_BYTES + maxPods * (8 + podIdBytes));
    const header = new Int32Array(table, 0, TABLE_HEADER_BYTES / 4);
    header[H_MAGIC] = MAGIC;
    header[H_VERSION] = LAYOUT_VERSION;
    header[H_SETS] = sets;
    header[H_SLOTS] = slotsPerKey;
    header[H_MAX_PODS] = maxPods;
    header[H_POD_ID_BYTES] = podIdBytes;
    const floats = new Float64Array(table, 0, TABLE_HEADER_BYTES / 8);
    floats[HF_EPOCH] = params.epochMs;
    floats.set(params.tierWeights.subarray(0, 4), HF_WEIGHTS);
    return new SharedLayout({ table, pods });
  }

  /** Views over buffers created by {@link create}, possibly in another thread. */
  static attach(buffers: MemoryIndexBuffers): SharedLayout {
    return new SharedLayout(buffers);
  }

  /** Shared bytes per key record for a given slot count. */
  static bytesPerKey(slotsPerKey: number): number {
    return 12 + 4 * slotsPerKey;
  }

  /** Word index of record `r`'s key (low half; the high half follows). */
  keyOffset(r: number): number {
    return (r >>> 3) * this.setWords + 2 * (r & 7);
  }

  /** Word index of record `r`'s seqlock; its slots follow. */
  seqOffset(r: number): number {
    return (r >>> 3) * this.setWords + 2 * WAYS + (r & 7) * this.recordWords;
  }

  get byteLength(): number {
    return this.buffers.table.byteLength + this.buffers.pods.byteLength;
  }
}

/** Set of a key, by its halves: a 32-bit mix then Lemire's multiply-shift range reduction. */
export function setOf(lo: number, hi: number, sets: number): number {
  let h = (lo ^ Math.imul(hi, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h = (h ^ (h >>> 16)) >>> 0;
  return Math.floor((h * sets) / 4294967296);
}
