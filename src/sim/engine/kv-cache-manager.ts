/**
 * Per-request KV bookkeeping over the block pool, after vLLM v1's `KVCacheManager` (single
 * full-attention group): prefix-cache lookup, slot allocation as tokens are scheduled, caching
 * of blocks as they fill (generated tokens included), and freeing.
 *
 * Block hashes are the hot cost of the whole simulator, so each request keeps its hashes and
 * computes each one once, lazily, in block order (a lookup that misses at block k stops hashing
 * there; caching later resumes from k).
 */
import type { BlockPool, StoredBlocksSource } from './block-pool.ts';
import type { BlockHashFn } from './types.ts';

/** A request's block table and hashes (vLLM `req_to_blocks`, `num_cached_block`, `block_hashes`). */
export class RequestKvState {
  /** Physical block ids in token order. */
  readonly blocks: number[] = [];
  /** Leading blocks already registered in the prefix cache, prefix hits included. */
  numCachedBlocks = 0;
  /** Digests of the request's full blocks computed so far (survive preemption, like vLLM's). */
  readonly hashes: Uint8Array[] = [];
  /** `hashes` as map keys. */
  readonly keys: string[] = [];
}

/** A request as the KV cache manager sees it. */
export interface KvRequest extends StoredBlocksSource {
  /** Prompt tokens plus tokens generated so far. */
  readonly numTokens: number;
  /** Tokens whose KV is already in the request's blocks. */
  readonly numComputedTokens: number;
  readonly kv: RequestKvState;
}

export interface KvCacheManagerOptions {
  readonly enableCaching: boolean;
  readonly hashBlock: BlockHashFn;
}

/**
 * The digest as a one-byte string (a Map key). Deliberately avoids `digest.buffer`: reading it
 * moves a small on-heap typed array off-heap, and a million such buffers make every young-gen GC
 * crawl.
 */
function keyOf(digest: Uint8Array): string {
  return String.fromCharCode.apply(null, digest as unknown as number[]);
}

export class KvCacheManager {
  readonly pool: BlockPool;
  readonly blockSize: number;
  readonly enableCaching: boolean;
  readonly #hashBlock: BlockHashFn;
  #hashCalls = 0;

  constructor(pool: BlockPool, options: KvCacheManagerOptions) {
    this.pool = pool;
    this.blockSize = pool.blockSize;
    this.enableCaching = options.enableCaching;
    this.#hashBlock = options.hashBlock;
  }

  /** Number of block hashes computed so far (each full block of each request at most once). */
  get hashCalls(): number {
    return this.#hashCalls;
  }

  /**
   * vLLM `get_computed_blocks`: the longest run of cached full blocks from the start of the
   * request, capped so that at least one token is left to compute (the last token's logits
   * are needed even when the whole prompt is cached). Fills `out` with the hit block ids and
   * returns the number of hit tokens (a multiple of the block size, < numTokens).
   */
  findCachedPrefix(request: KvRequest, out: number[]): number {
    out.length = 0;
    if (!this.enableCaching) return 0;
    const maxBlocks = Math.floor((request.numTokens - 1) / this.blockSize);
    const keys = request.kv.keys;
    for (let i = 0; i < maxBlocks; i++) {
      if (i === keys.length) this.#hashUpTo(request, i + 1);
      const id = this.pool.getCachedBlock(keys[i]!);
      if (id < 0) break;
      out.push(id);
    }
    return out.length * this.blockSize;
  }

  /**
   * vLLM `allocate_slots`: make room for `numNewTokens` more tokens after the computed ones and
   * the prefix `hits` (only for a request that holds no blocks yet). All or nothing: returns
   * false, changing nothing, when the free queue cannot supply the new blocks plus the hits that
   * sit in it. On success, caches every block that these tokens fill unless `delayCaching`
   * (KV arriving from a remote prefill is cached once it has landed).
   */
  allocateSlots(
    request: KvRequest,
    numNewTokens: number,
    hits: readonly number[],
    delayCaching = false,
  ): boolean {
    const kv = request.kv;
    if (hits.length > 0 && kv.blocks.length > 0)
      throw new Error('prefix hits for a request that holds blocks');
    const bs = this.blockSize;
    const numTokensNeeded = request.numComputedTokens + hits.length * bs + numNewTokens;
    const numNewBlocks = Math.max(0, Math.ceil(numTokensNeeded / bs) - kv.blocks.length - hits.length);
    const numTouchedFree = hits.length > 0 ? this.pool.countFree(hits) : 0;
    if (numNewBlocks + numTouchedFree > this.pool.numFreeBlocks) return false;
    if (hits.length > 0) {
      this.pool.touch(hits);
      for (const id of hits) kv.blocks.push(id);
      kv.numCachedBlocks = hits.length;
    }
    if (numNewBlocks > 0) this.pool.allocate(numNewBlocks, kv.blocks);
    if (!delayCaching) this.cacheBlocks(request, Math.min(numTokensNeeded, request.numTokens));
    return true;
  }

  /** Register the request's blocks that are full within its first `numTokens` tokens. */
  cacheBlocks(request: KvRequest, numTokens: number): void {
    if (!this.enableCaching) return;
    const kv = request.kv;
    const numFull = Math.floor(numTokens / this.blockSize);
    if (numFull <= kv.numCachedBlocks) return;
    if (numFull > kv.blocks.length) throw new Error('caching blocks that were never allocated');
    this.#hashUpTo(request, numFull);
    this.pool.cacheFullBlocks(kv.blocks, kv.numCachedBlocks, numFull, kv.hashes, kv.keys, request);
    kv.numCachedBlocks = numFull;
  }

  /**
   * Release the request's blocks tail-first (vLLM frees in reverse so that, among the blocks of
   * one request, the end of the sequence is evicted before the shared beginning).
   */
  free(request: KvRequest): void {
    const kv = request.kv;
    if (kv.blocks.length === 0) return;
    this.pool.free(kv.blocks.toReversed());
    kv.blocks.length = 0;
    kv.numCachedBlocks = 0;
  }

  #hashUpTo(request: KvRequest, numBlocks: number): void {
    const { hashes, keys } = request.kv;
    const bs = this.blockSize;
    for (let i = hashes.length; i < numBlocks; i++) {
      const parent = i > 0 ? hashes[i - 1]! : null;
      const digest = this.#hashBlock(
        parent,
        request.tokensInRange(i * bs, (i + 1) * bs),
        request.extraKeysForBlock(i),
      );
      this.#hashCalls++;
      hashes.push(digest);
      keys.push(keyOf(digest));
    }
  }
}
