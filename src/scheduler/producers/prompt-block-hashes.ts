/**
 * Chained block hashes of a prompt, computed as llm-d's approximate prefix producer does
 * (llm-d-router.md §2.7 "Hashing per prompt"):
 *
 * - tokens: the real token ids when known, else the prompt's UTF-8 bytes packed 4 bytes → one
 *   little-endian uint32 pseudo-token (the last one zero-padded);
 * - h0 = xxhash64(targetModel ‖ cacheSalt);
 * - for each block of `blockSizeTokens` tokens (as little-endian uint32 bytes; a partial trailing
 *   block is hashed too): blk = xxhash64(block), h_i = xxhash64(LE64(blk) ‖ LE64(h_{i−1}));
 * - stop after `maxBlocks` blocks.
 */
import { xxh64 } from '@node-rs/xxhash';

/** The request fields that determine the hashes. */
export interface HashablePrompt {
  readonly targetModel: string;
  readonly cacheSalt?: string;
  readonly promptText: string;
  readonly tokenIds?: readonly number[];
}

/** Bytes a pseudo-token covers. */
export const BYTES_PER_PSEUDO_TOKEN = 4;

/**
 * Block hashes of `prompt`, at most `maxBlocks` of them (`Infinity` = unlimited).
 * @param blockSizeTokens tokens per block (> 0)
 */
export function promptBlockHashes(
  prompt: HashablePrompt,
  blockSizeTokens: number,
  maxBlocks: number,
): bigint[] {
  const bytes = tokenBytes(prompt);
  const blockBytes = blockSizeTokens * BYTES_PER_PSEUDO_TOKEN;
  const chain = Buffer.allocUnsafe(16);
  const hashes: bigint[] = [];
  let previous = xxh64(Buffer.from(prompt.targetModel + (prompt.cacheSalt ?? ''), 'utf8'));
  for (let offset = 0; offset < bytes.length && hashes.length < maxBlocks; offset += blockBytes) {
    const block = xxh64(bytes.subarray(offset, Math.min(offset + blockBytes, bytes.length)));
    chain.writeBigUInt64LE(block, 0);
    chain.writeBigUInt64LE(previous, 8);
    previous = xxh64(chain);
    hashes.push(previous);
  }
  return hashes;
}

/** Number of (pseudo-)tokens `prompt` hashes to. */
export function promptTokenCount(prompt: HashablePrompt): number {
  if (prompt.tokenIds) return prompt.tokenIds.length;
  return Math.ceil(Buffer.byteLength(prompt.promptText, 'utf8') / BYTES_PER_PSEUDO_TOKEN);
}

/**
 * Reused encoding buffer: hashing is synchronous, and allocating a fresh buffer per prompt
 * (tens of KB) costs more than the hashing itself through GC pressure.
 */
let scratch = Buffer.allocUnsafe(64 * 1024);

function scratchOf(size: number): Buffer {
  if (scratch.length < size) scratch = Buffer.allocUnsafe(Math.max(size, scratch.length * 2));
  return scratch;
}

/** The little-endian uint32 token stream as bytes (a view of the scratch buffer). */
function tokenBytes(prompt: HashablePrompt): Buffer {
  const { tokenIds } = prompt;
  if (tokenIds) {
    const out = scratchOf(tokenIds.length * BYTES_PER_PSEUDO_TOKEN);
    for (let i = 0; i < tokenIds.length; i++) out.writeUInt32LE((tokenIds[i] as number) >>> 0, i * 4);
    return out.subarray(0, tokenIds.length * BYTES_PER_PSEUDO_TOKEN);
  }
  const text = prompt.promptText;
  // UTF-8 needs at most 3 bytes per UTF-16 code unit, plus room for the zero padding.
  const out = scratchOf(text.length * 3 + BYTES_PER_PSEUDO_TOKEN);
  const length = out.write(text, 0, 'utf8');
  const padded = Math.ceil(length / BYTES_PER_PSEUDO_TOKEN) * BYTES_PER_PSEUDO_TOKEN;
  out.fill(0, length, padded);
  return out.subarray(0, padded);
}
