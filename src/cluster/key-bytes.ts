/**
 * 64-bit keys as bytes, little-endian, the form they take in Redis hash fields, sorted-set members
 * and change-stream payloads (8 bytes instead of up to 20 decimal digits).
 */
import { endianness } from 'node:os';
import type { BlockKeyList } from '../index-store/block-index.ts';

const LITTLE_ENDIAN_HOST = endianness() === 'LE';

/** One key as an 8-byte buffer. */
export function keyBytes(key: bigint): Buffer {
  const out = Buffer.allocUnsafe(8);
  out.writeBigUInt64LE(BigInt.asUintN(64, key));
  return out;
}

/** The key in the first 8 bytes at `offset`. */
export function readKey(bytes: Uint8Array, offset = 0): bigint {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).readBigUInt64LE(offset);
}

/** Writes `keys` into `out` at `offset`; returns the offset after them. */
export function writeKeys(keys: BlockKeyList, out: Buffer, offset: number): number {
  if (LITTLE_ENDIAN_HOST && keys instanceof BigUint64Array) {
    out.set(new Uint8Array(keys.buffer, keys.byteOffset, keys.byteLength), offset);
    return offset + keys.byteLength;
  }
  for (let i = 0; i < keys.length; i++) offset = out.writeBigUInt64LE(BigInt.asUintN(64, keys[i]!), offset);
  return offset;
}

/** `keys` packed into a new buffer. */
export function packKeys(keys: BlockKeyList): Buffer {
  const out = Buffer.allocUnsafe(keys.length * 8);
  writeKeys(keys, out, 0);
  return out;
}

/** `count` keys read from `bytes` at `offset`. */
export function unpackKeys(bytes: Uint8Array, offset: number, count: number): BigUint64Array {
  const out = new BigUint64Array(count);
  if (LITTLE_ENDIAN_HOST) {
    new Uint8Array(out.buffer).set(bytes.subarray(offset, offset + count * 8));
    return out;
  }
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < count; i++) out[i] = view.readBigUInt64LE(offset + i * 8);
  return out;
}
