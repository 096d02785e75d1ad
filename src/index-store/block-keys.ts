/**
 * kvedge block keys: the canonical 64-bit names of prompt blocks, computed identically on the lookup
 * path (from a tokenized prompt) and on the ingestion path (from `BlockStored.token_ids`), so the
 * index never needs vLLM's own hash algorithm or `PYTHONHASHSEED` (shared reference
 * `kv-events-and-hashing.md` §4.1, the "dual-key design").
 *
 * Definition (XXH64, seed 0 unless stated, integers little-endian):
 *
 * - root = XXH64(le64(XXH64("")) ‖ le64(len(name)) ‖ name), where name = the LoRA adapter name when
 *   one is given, else the model name (UTF-8);
 * - with a cache salt: root = XXH64(le64(root) ‖ le64(len(salt)) ‖ salt, seed = 0x73616c74);
 * - key_i = XXH64(le64(key_{i-1}) ‖ le32(t_{iB}) ‖ … ‖ le32(t_{iB+B-1})), key_{-1} = root;
 *   full blocks only, a partial tail gets no key.
 *
 * Without a salt this is byte-for-byte llm-d's `xxh64` token processor with hash seed `""` (§4.2),
 * so keys interoperate with an llm-d indexer configured that way. llm-d folds the salt into block
 * 0's extra features instead; we fold it into the root, a separate XXH64 seed keeping salted roots
 * from ever colliding with a block computation by construction of the input.
 */
import { xxh64 } from '@node-rs/xxhash';

const SALT_SEED = 0x73616c74n;
const encoder = new TextEncoder();

/** XXH64 of the empty string: llm-d's `initHash` for hash seed `""`. */
const INIT_HASH = xxh64(new Uint8Array(0), 0n);

/**
 * Root key of a block-key chain: identifies the model (or LoRA adapter) and the tenant's cache salt.
 *
 * @param model served base model name, exactly as the pods' KV-event topic spells it.
 * @param loraName LoRA adapter name; replaces the model name when non-empty (as vLLM's extra keys and
 *   llm-d do).
 * @param cacheSalt the request's `cache_salt`; null, undefined or empty for none.
 */
export function blockKeyRoot(model: string, loraName?: string | null, cacheSalt?: string | null): bigint {
  const name = loraName ? loraName : model;
  let root = xxh64(lengthPrefixed(INIT_HASH, name), 0n);
  if (cacheSalt) root = xxh64(lengthPrefixed(root, cacheSalt), SALT_SEED);
  return root;
}

/**
 * Keys of the full blocks of `tokenIds`, chained from `rootKey` (a {@link blockKeyRoot} or the key of
 * the block just before `tokenIds[0]`). Tokens past the last full block are ignored.
 */
export function computeBlockKeys(
  tokenIds: ArrayLike<number>,
  blockSize: number,
  rootKey: bigint,
): BigUint64Array {
  if (!Number.isInteger(blockSize) || blockSize <= 0) throw new RangeError(`invalid block size ${blockSize}`);
  const count = Math.floor(tokenIds.length / blockSize);
  const keys = new BigUint64Array(count);
  if (count === 0) return keys;
  const input = new Uint8Array(8 + 4 * blockSize);
  const view = new DataView(input.buffer);
  let parent = rootKey;
  let t = 0;
  for (let block = 0; block < count; block++) {
    view.setBigUint64(0, parent, true);
    for (let off = 8; off < input.length; off += 4) view.setUint32(off, tokenIds[t++]! >>> 0, true);
    parent = xxh64(input, 0n);
    keys[block] = parent;
  }
  return keys;
}

function lengthPrefixed(prefix: bigint, text: string): Uint8Array {
  const bytes = encoder.encode(text);
  const input = new Uint8Array(16 + bytes.length);
  const view = new DataView(input.buffer);
  view.setBigUint64(0, prefix, true);
  view.setBigUint64(8, BigInt(bytes.length), true);
  input.set(bytes, 16);
  return input;
}
