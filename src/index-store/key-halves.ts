/**
 * 64-bit keys as pairs of 32-bit halves, the form the shared table stores. Converting through
 * typed arrays avoids a BigInt shift and mask (two allocations) per key on the hot path.
 */
import type { BlockKeyList } from './block-index.ts';

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * `[lo0, hi0, lo1, hi1, …]` for a key list: a zero-copy view of a `BigUint64Array` on little-endian
 * hosts, one copy otherwise.
 */
export function keyHalves(keys: BlockKeyList): Uint32Array {
  if (keys instanceof BigUint64Array && LITTLE_ENDIAN) {
    return new Uint32Array(keys.buffer, keys.byteOffset, keys.length * 2);
  }
  const out = new Uint32Array(keys.length * 2);
  const wide = new BigUint64Array(out.buffer);
  for (let i = 0; i < keys.length; i++) wide[i] = keys[i]!;
  if (!LITTLE_ENDIAN) {
    for (let i = 0; i < out.length; i += 2) {
      const a = out[i]!;
      out[i] = out[i + 1]!;
      out[i + 1] = a;
    }
  }
  return out;
}

const scratchWide = new BigUint64Array(1);
const scratchHalves = new Uint32Array(scratchWide.buffer);
const LO = LITTLE_ENDIAN ? 0 : 1;
const HI = LITTLE_ENDIAN ? 1 : 0;

/** Low 32 bits of a key (as an unsigned number); use with {@link lastHigh} right after. */
export function splitKey(key: bigint): number {
  scratchWide[0] = key;
  return scratchHalves[LO]!;
}

/** High 32 bits of the key last passed to {@link splitKey}. */
export function lastHigh(): number {
  return scratchHalves[HI]!;
}

/** Joins two halves back into a key. */
export function joinKey(lo: number, hi: number): bigint {
  scratchHalves[LO] = lo;
  scratchHalves[HI] = hi;
  return scratchWide[0]!;
}
