/**
 * Memory layout of the shared fleet table and the seqlock that guards its metric records.
 *
 * ```
 * byte 0    header (64 B): magic, layout version, capacity, high-water slot count, instance id
 * byte 64   slot 0 (128 B)
 *             0..63   record, Int32 words, written only by the owner thread under a seqlock:
 *                     seq, generation, flags, waiting, running, kv usage ×1e6, block size,
 *                     block count, max LoRAs, updatedAtMs (high, low)
 *             64..127 in-flight counters, two BigUint64 words updated by every thread with CAS:
 *                     requests, tokens; each tagged with the slot generation (see below)
 * byte 192  slot 1 …
 * ```
 *
 * Records and counters sit on separate 64-byte cache lines: counters change on every dispatch
 * from every thread, records 20 times a second from one thread.
 *
 * Seqlock: the owner makes `seq` odd, writes the fields, makes it even again. A reader reads
 * `seq`, the fields, and `seq` again, and retries unless both reads are the same even number,
 * so it never sees half an update and never blocks the writer.
 *
 * Generations: a slot's generation is odd while it holds an endpoint and even while free; it is
 * bumped on every allocation and release. Counter words carry the low 16 bits of the generation
 * in their top 16 bits (count in the low 48), and every update is a compare-and-swap that checks
 * the tag, so a late release for a removed endpoint can never touch the counters of the
 * endpoint that reused its slot.
 */

export const LAYOUT_MAGIC = 0x6b766564; // "kved"
export const LAYOUT_VERSION = 1;
export const HEADER_BYTES = 64;
export const SLOT_BYTES = 128;
const SLOT_WORDS = SLOT_BYTES / 4;
const HEADER_WORDS = HEADER_BYTES / 4;

/** Header Int32 word indexes. */
export const HEADER = {
  magic: 0,
  version: 1,
  capacity: 2,
  highWater: 3,
  /** Four words of random instance id, naming the identity channel. */
  instanceId: 4,
} as const;

/** Record Int32 word offsets within a slot. */
const SEQ = 0;
const GENERATION = 1;
const FLAGS = 2;
const WAITING = 3;
const RUNNING = 4;
const KV_MICROS = 5;
const BLOCK_SIZE = 6;
const NUM_BLOCKS = 7;
const MAX_LORAS = 8;
const UPDATED_HIGH = 9;
const UPDATED_LOW = 10;

const FLAG_HEALTHY = 1;
const FLAG_HAS_METRICS = 2;

/** Stand-in for null in nullable integer fields. */
const NULL_INT = -1;
const TWO_POW_32 = 2 ** 32;

const GENERATION_TAG_BITS = 16n;
const COUNT_BITS = 48n;
const COUNT_MASK = (1n << COUNT_BITS) - 1n;
const TAG_MASK = ((1n << GENERATION_TAG_BITS) - 1n) << COUNT_BITS;

/** Bytes of a buffer holding `capacity` slots. */
export function bufferBytes(capacity: number): number {
  return HEADER_BYTES + capacity * SLOT_BYTES;
}

/** Int32 index of a slot's first record word. */
export function recordBase(slot: number): number {
  return HEADER_WORDS + slot * SLOT_WORDS;
}

/** BigUint64 index of a slot's in-flight request counter; the token counter follows it. */
export function counterIndex(slot: number): number {
  return (HEADER_BYTES + slot * SLOT_BYTES + 64) / 8;
}

/** The tag a counter word carries for a generation. */
export function generationTag(generation: number): bigint {
  return BigInt(generation & 0xffff) << COUNT_BITS;
}

/** The numeric fields of a slot record (LoRA names travel separately: they are strings). */
export interface SlotRecord {
  generation: number;
  healthy: boolean;
  hasMetrics: boolean;
  waiting: number;
  running: number;
  /** KV usage ×1e6, rounded. */
  kvMicros: number;
  blockSize: number | null;
  numBlocks: number | null;
  maxLoras: number | null;
  updatedAtMs: number;
}

/** A zeroed record, for reuse as a read target. */
export function emptyRecord(): SlotRecord {
  return {
    generation: 0,
    healthy: false,
    hasMetrics: false,
    waiting: 0,
    running: 0,
    kvMicros: 0,
    blockSize: null,
    numBlocks: null,
    maxLoras: null,
    updatedAtMs: 0,
  };
}

/** Clamps to a non-negative Int32 (NaN and negatives become 0). */
export function toInt32(value: number): number {
  if (!(value > 0)) return 0;
  return value >= 0x7fffffff ? 0x7fffffff : Math.round(value);
}

function nullableToInt(value: number | null): number {
  return value === null ? NULL_INT : toInt32(value);
}

function intToNullable(value: number): number | null {
  return value === NULL_INT ? null : value;
}

/**
 * Writes a record under the seqlock. Owner thread only: the seqlock assumes a single writer.
 */
export function writeRecord(words: Int32Array, slot: number, record: SlotRecord): void {
  const base = recordBase(slot);
  const seq = Atomics.load(words, base + SEQ);
  Atomics.store(words, base + SEQ, seq + 1);
  Atomics.store(words, base + GENERATION, record.generation);
  Atomics.store(
    words,
    base + FLAGS,
    (record.healthy ? FLAG_HEALTHY : 0) | (record.hasMetrics ? FLAG_HAS_METRICS : 0),
  );
  Atomics.store(words, base + WAITING, toInt32(record.waiting));
  Atomics.store(words, base + RUNNING, toInt32(record.running));
  Atomics.store(words, base + KV_MICROS, toInt32(record.kvMicros));
  Atomics.store(words, base + BLOCK_SIZE, nullableToInt(record.blockSize));
  Atomics.store(words, base + NUM_BLOCKS, nullableToInt(record.numBlocks));
  Atomics.store(words, base + MAX_LORAS, nullableToInt(record.maxLoras));
  const updated = Math.max(0, Math.round(record.updatedAtMs));
  Atomics.store(words, base + UPDATED_HIGH, Math.floor(updated / TWO_POW_32));
  Atomics.store(words, base + UPDATED_LOW, (updated % TWO_POW_32) | 0);
  Atomics.store(words, base + SEQ, seq + 2);
}

/**
 * Reads a consistent copy of a record into `out`, retrying while the owner is mid-write.
 * Returns the sequence number the copy corresponds to (changes whenever the record does).
 */
export function readRecord(words: Int32Array, slot: number, out: SlotRecord): number {
  const base = recordBase(slot);
  for (;;) {
    const before = Atomics.load(words, base + SEQ);
    if ((before & 1) !== 0) continue;
    out.generation = Atomics.load(words, base + GENERATION);
    const flags = Atomics.load(words, base + FLAGS);
    out.healthy = (flags & FLAG_HEALTHY) !== 0;
    out.hasMetrics = (flags & FLAG_HAS_METRICS) !== 0;
    out.waiting = Atomics.load(words, base + WAITING);
    out.running = Atomics.load(words, base + RUNNING);
    out.kvMicros = Atomics.load(words, base + KV_MICROS);
    out.blockSize = intToNullable(Atomics.load(words, base + BLOCK_SIZE));
    out.numBlocks = intToNullable(Atomics.load(words, base + NUM_BLOCKS));
    out.maxLoras = intToNullable(Atomics.load(words, base + MAX_LORAS));
    const high = Atomics.load(words, base + UPDATED_HIGH);
    const low = Atomics.load(words, base + UPDATED_LOW) >>> 0;
    out.updatedAtMs = high * TWO_POW_32 + low;
    if (Atomics.load(words, base + SEQ) === before) return before;
  }
}

/**
 * A slot's sequence number. Equal even values at two moments mean the record did not change in
 * between, so a reader can keep what it decoded last time without re-reading the fields.
 */
export function readSeq(words: Int32Array, slot: number): number {
  return Atomics.load(words, recordBase(slot) + SEQ);
}

/** The current generation of a slot (a single atomic word, no seqlock needed). */
export function readGeneration(words: Int32Array, slot: number): number {
  return Atomics.load(words, recordBase(slot) + GENERATION);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Reads a tagged counter through its two 32-bit halves, avoiding BigInt allocation on the
 * per-request snapshot path. Returns -1 when the word carries another generation's tag.
 * The high half is read twice so a concurrent carry between the halves is never mixed up.
 */
export function readTaggedCount(words: Int32Array, index64: number, generation: number): number {
  const lowIndex = LITTLE_ENDIAN ? index64 * 2 : index64 * 2 + 1;
  const highIndex = LITTLE_ENDIAN ? index64 * 2 + 1 : index64 * 2;
  for (;;) {
    const high = Atomics.load(words, highIndex);
    const low = Atomics.load(words, lowIndex);
    if (Atomics.load(words, highIndex) !== high) continue;
    if (high >>> 16 !== (generation & 0xffff)) return -1;
    return (high & 0xffff) * TWO_POW_32 + (low >>> 0);
  }
}

/**
 * Adds `delta` to a tagged counter if it still carries `tag`. The count never goes below zero
 * (a release without its acquire is dropped rather than wrapping into the tag bits).
 */
export function addTagged(counters: BigUint64Array, index: number, tag: bigint, delta: bigint): boolean {
  for (;;) {
    const current = Atomics.load(counters, index);
    if ((current & TAG_MASK) !== tag) return false;
    let count = (current & COUNT_MASK) + delta;
    if (count < 0n) count = 0n;
    else if (count > COUNT_MASK) count = COUNT_MASK;
    if (Atomics.compareExchange(counters, index, current, tag | count) === current) return true;
  }
}
