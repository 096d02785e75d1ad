/**
 * vLLM-compatible prefix-cache block hashing (shared reference `kv-events-and-hashing.md` §2.4 and
 * §3.1–§3.3; vectors in `reference/vectors/block-hash-vectors.json`).
 *
 * - `NONE_HASH = H(serialize(PYTHONHASHSEED string))`; unset seed means a random root per process.
 * - block digest = `H(serialize((parent digest | NONE_HASH, tuple(tokens), extra_keys | None)))`,
 *   the parent being the previous block's full digest; only full blocks are hashed.
 * - the int a KV event carries is the digest's last 8 bytes read big-endian.
 *
 * Algorithms: `sha256_cbor` (default here; the only language-neutral one), `sha256` (vLLM's own
 * default, CPython pickle), and the XXH3-128 variants `xxhash_cbor` / `xxhash`. The legacy
 * `sha256_cbor_64bit` int chain (vLLM v0.9.2–v0.10.1) is {@link createLegacySha256Cbor64BitHasher}.
 */
import { hash as nodeHash, randomBytes } from 'node:crypto';
import { xxh3 } from '@node-rs/xxhash';
import { CborWriter } from './cbor.ts';
import type { BlockExtraKeys, ExtraKey } from './events.ts';
import { VllmPickler } from './pickle.ts';

/** `--prefix-caching-hash-algo` values. */
export type VllmHashAlgo = 'sha256_cbor' | 'sha256' | 'xxhash_cbor' | 'xxhash';

/** Hashes one full block given its parent's digest (`null` for the first block). */
export type BlockHashFn = (
  parent: Uint8Array | null,
  tokens: readonly number[],
  extraKeys: BlockExtraKeys,
) => Uint8Array;

/** Extra keys of the block covering tokens `[start, end)`; see `vllm-extra-keys.ts`. */
export type ExtraKeysForBlock = (blockIndex: number, start: number, end: number) => BlockExtraKeys;

export interface VllmBlockHasherOptions {
  /** Default `sha256_cbor`. */
  readonly algo?: VllmHashAlgo;
  /**
   * The `PYTHONHASHSEED` string the engine runs with; default `"0"`. `null` reproduces an unset
   * variable: a random root, so hashes match no other process.
   */
  readonly pythonHashSeed?: string | null;
}

export interface VllmBlockHasher {
  readonly algo: VllmHashAlgo;
  /** The chain root (32 bytes for sha256 variants, 16 for xxhash). */
  readonly noneHash: Uint8Array;
  readonly hashBlock: BlockHashFn;
  /**
   * Digests of every full block of `tokens`, chained from the root; the partial tail is not hashed.
   * `extraKeysForBlock` supplies each block's extra keys (default: none).
   */
  hashPrompt(
    tokens: ArrayLike<number>,
    blockSize: number,
    extraKeysForBlock?: ExtraKeysForBlock,
  ): Uint8Array[];
}

type Serialize = (
  parent: Uint8Array,
  tokens: ArrayLike<number>,
  start: number,
  end: number,
  extraKeys: BlockExtraKeys,
) => Uint8Array;

/** Creates a hasher bound to one algorithm and seed; not safe to share across worker threads. */
export function createVllmBlockHasher(options: VllmBlockHasherOptions = {}): VllmBlockHasher {
  const algo = options.algo ?? 'sha256_cbor';
  const seed = options.pythonHashSeed === undefined ? '0' : options.pythonHashSeed;
  const digest = algo === 'sha256' || algo === 'sha256_cbor' ? sha256Digest : xxh3Digest;
  const useCbor = algo === 'sha256_cbor' || algo === 'xxhash_cbor';

  let serialize: Serialize;
  let serializeSeed: (seed: string) => Uint8Array;
  if (useCbor) {
    const writer = new CborWriter();
    serialize = (parent, tokens, start, end, extraKeys) => {
      writer.reset();
      writeCborBlockInput(writer, parent, tokens, start, end, extraKeys);
      return writer.bytes();
    };
    serializeSeed = (s) => {
      writer.reset();
      writer.writeText(s);
      return writer.bytes();
    };
  } else {
    const pickler = new VllmPickler();
    serialize = (parent, tokens, start, end, extraKeys) =>
      pickler.dumpBlockHashInput(parent, tokens, start, end, extraKeys);
    serializeSeed = (s) => pickler.dump(s);
  }

  const digestSize = digest === sha256Digest ? 32 : 16;
  const noneHash = seed === null ? new Uint8Array(randomBytes(digestSize)) : digest(serializeSeed(seed));

  const hashRange = (
    parent: Uint8Array | null,
    tokens: ArrayLike<number>,
    start: number,
    end: number,
    extraKeys: BlockExtraKeys,
  ): Uint8Array => {
    // vLLM: `if not parent_block_hash: parent_block_hash = NONE_HASH` (empty bytes are falsy too).
    const p = parent === null || parent.length === 0 ? noneHash : parent;
    return digest(serialize(p, tokens, start, end, extraKeys));
  };

  return {
    algo,
    noneHash,
    hashBlock: (parent, tokens, extraKeys) => hashRange(parent, tokens, 0, tokens.length, extraKeys),
    hashPrompt(tokens, blockSize, extraKeysForBlock) {
      assertBlockSize(blockSize);
      const out: Uint8Array[] = [];
      let parent: Uint8Array | null = null;
      for (let start = 0, i = 0; start + blockSize <= tokens.length; start += blockSize, i++) {
        const end = start + blockSize;
        const extra = extraKeysForBlock ? extraKeysForBlock(i, start, end) : null;
        parent = hashRange(parent, tokens, start, end, extra);
        out.push(parent);
      }
      return out;
    },
  };
}

/** The uint64 a KV event carries for a digest: its last 8 bytes, big-endian (§2.4). */
export function digestToEventInt(digest: Uint8Array): bigint {
  const n = digest.length;
  if (n >= 8) {
    const view = new DataView(digest.buffer, digest.byteOffset + n - 8, 8);
    return view.getBigUint64(0, false);
  }
  let value = 0n;
  for (let i = 0; i < n; i++) value = (value << 8n) | BigInt(digest[i]!);
  return value;
}

/** Legacy `sha256_cbor_64bit` hasher: ints all the way, the int parent fed back into the tuple. */
export interface LegacySha256Cbor64BitHasher {
  readonly noneHash: bigint;
  hashBlock(parent: bigint | null, tokens: readonly number[], extraKeys: BlockExtraKeys): bigint;
  hashPrompt(tokens: ArrayLike<number>, blockSize: number, extraKeysForBlock?: ExtraKeysForBlock): bigint[];
}

/**
 * vLLM v0.9.2–v0.10.1 `sha256_cbor_64bit`: `int(sha256(cbor(x))) & (2^64-1)` with
 * `NONE_HASH = h(seed string)` and `(parent int, tokens, extra)` as the block input (§3.1).
 */
export function createLegacySha256Cbor64BitHasher(
  options: { readonly pythonHashSeed?: string } = {},
): LegacySha256Cbor64BitHasher {
  const writer = new CborWriter();
  writer.writeText(options.pythonHashSeed ?? '0');
  const noneHash = digestToEventInt(sha256Digest(writer.bytes()));

  const hashRange = (
    parent: bigint | null,
    tokens: ArrayLike<number>,
    start: number,
    end: number,
    extraKeys: BlockExtraKeys,
  ): bigint => {
    writer.reset();
    writer.writeArrayHeader(3);
    // `parent if parent else none_hash`: 0 counts as no parent.
    writer.writeBigInt(parent ? parent : noneHash);
    writeCborTokens(writer, tokens, start, end);
    writeCborExtraKeys(writer, extraKeys);
    return digestToEventInt(sha256Digest(writer.bytes()));
  };

  return {
    noneHash,
    hashBlock: (parent, tokens, extraKeys) => hashRange(parent, tokens, 0, tokens.length, extraKeys),
    hashPrompt(tokens, blockSize, extraKeysForBlock) {
      assertBlockSize(blockSize);
      const out: bigint[] = [];
      let parent: bigint | null = null;
      for (let start = 0, i = 0; start + blockSize <= tokens.length; start += blockSize, i++) {
        const end = start + blockSize;
        parent = hashRange(
          parent,
          tokens,
          start,
          end,
          extraKeysForBlock ? extraKeysForBlock(i, start, end) : null,
        );
        out.push(parent);
      }
      return out;
    },
  };
}

function writeCborBlockInput(
  writer: CborWriter,
  parent: Uint8Array,
  tokens: ArrayLike<number>,
  start: number,
  end: number,
  extraKeys: BlockExtraKeys,
): void {
  writer.writeArrayHeader(3);
  writer.writeBytes(parent);
  writeCborTokens(writer, tokens, start, end);
  writeCborExtraKeys(writer, extraKeys);
}

function writeCborTokens(writer: CborWriter, tokens: ArrayLike<number>, start: number, end: number): void {
  writer.writeArrayHeader(end - start);
  for (let i = start; i < end; i++) writer.writeInt(tokens[i]!);
}

function writeCborExtraKeys(writer: CborWriter, extraKeys: BlockExtraKeys): void {
  if (extraKeys === null) {
    writer.writeNull();
    return;
  }
  writer.writeArrayHeader(extraKeys.length);
  for (const key of extraKeys) writeCborExtraKey(writer, key);
}

function writeCborExtraKey(writer: CborWriter, key: ExtraKey): void {
  if (typeof key === 'string') writer.writeText(key);
  else if (key instanceof Uint8Array) writer.writeBytes(key);
  else writer.writeValue(key);
}

function sha256Digest(data: Uint8Array): Uint8Array {
  return nodeHash('sha256', data, 'buffer');
}

/** XXH3-128 in canonical (big-endian) byte order, as python-xxhash's `xxh3_128_digest`. */
function xxh3Digest(data: Uint8Array): Uint8Array {
  const value = xxh3.xxh128(data);
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, value >> 64n, false);
  view.setBigUint64(8, BigInt.asUintN(64, value), false);
  return out;
}

function assertBlockSize(blockSize: number): void {
  if (!Number.isInteger(blockSize) || blockSize <= 0) {
    throw new RangeError(`block size must be a positive integer, got ${blockSize}`);
  }
}
