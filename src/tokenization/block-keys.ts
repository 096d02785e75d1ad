/**
 * kvedge's own block keys: chained 64-bit hashes over full blocks of token ids, computed the same
 * way from a request's prompt (lookup) and from `BlockStored.token_ids` (ingestion), so they
 * never depend on vLLM's hash algorithm or PYTHONHASHSEED (the dual-key design,
 * reference/kv-events-and-hashing.md section 4.1).
 *
 * Byte layout (all integers little-endian):
 * - root  = XXH64(le64(len(model)) ‖ model ‖ le64(len(lora)) ‖ lora ‖ le64(len(salt)) ‖ salt, seed 0),
 *   strings as UTF-8, lengths in bytes; a missing LoRA name or salt is the empty string. The
 *   length prefixes keep ("ab", "c") and ("a", "bc") apart.
 * - key_i = XXH64(le64(key_{i-1}) ‖ le32(t_0) ‖ ... ‖ le32(t_{B-1}), seed 0), key_{-1} = root.
 * A trailing partial block gets no key (vLLM caches full blocks only).
 */
import { xxh64 } from '@node-rs/xxhash';

const utf8 = new TextEncoder();

/** Root of the key chain for a model, LoRA adapter and cache salt (vLLM `cache_salt`). */
export function blockKeyRoot(model: string, loraName?: string | null, cacheSalt?: string | null): bigint {
  const parts = [model, loraName ?? '', cacheSalt ?? ''].map((s) => utf8.encode(s));
  const bytes = new Uint8Array(parts.reduce((n, p) => n + 8 + p.length, 0));
  const view = new DataView(bytes.buffer);
  let offset = 0;
  for (const part of parts) {
    view.setBigUint64(offset, BigInt(part.length), true);
    bytes.set(part, offset + 8);
    offset += 8 + part.length;
  }
  return xxh64(bytes, 0n);
}

/**
 * Keys of the full `blockSize`-token blocks of `tokenIds`, chained from `rootKey`.
 *
 * @throws RangeError for a non-positive block size or a token id outside uint32.
 */
export function computeBlockKeys(
  tokenIds: ArrayLike<number>,
  blockSize: number,
  rootKey: bigint,
): BigUint64Array {
  if (!Number.isInteger(blockSize) || blockSize <= 0) {
    throw new RangeError(`blockSize must be a positive integer, got ${blockSize}`);
  }
  const blocks = Math.floor(tokenIds.length / blockSize);
  const keys = new BigUint64Array(blocks);
  const buffer = new Uint8Array(8 + 4 * blockSize);
  const view = new DataView(buffer.buffer);
  let parent = BigInt.asUintN(64, rootKey);
  for (let b = 0; b < blocks; b++) {
    view.setBigUint64(0, parent, true);
    const base = b * blockSize;
    for (let i = 0; i < blockSize; i++) {
      const id = tokenIds[base + i]!;
      if (!(id >= 0 && id <= 0xffffffff && Number.isInteger(id))) {
        throw new RangeError(`token id at ${base + i} is not a uint32: ${id}`);
      }
      view.setUint32(8 + 4 * i, id, true);
    }
    parent = xxh64(buffer, 0n);
    keys[b] = parent;
  }
  return keys;
}
