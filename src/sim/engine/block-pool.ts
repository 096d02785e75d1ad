/**
 * The GPU KV block pool with vLLM v1 prefix caching (`vllm/v1/core/block_pool.py`):
 *
 * - Full blocks carry a chained hash and are registered in a hash -> blocks map. Identical blocks
 *   are not de-duplicated: two physical blocks may hold the same hash, and each is stored and
 *   removed (and announced) on its own.
 * - Blocks whose reference count drops to 0 go to the tail of the free queue but keep their hash,
 *   so they can still be hit until they are reused. Allocation takes the head of the queue and
 *   evicts its hash (one `BlockRemoved` per block), which makes the free queue an LRU.
 * - A hit on a free block takes it off the queue ("touch").
 *
 * Events are buffered here and drained once per engine step, as vLLM's `take_events()`.
 */
import type { BlockExtraKeys, KvEvent } from '../../kv-protocol/events.ts';
import { FreeBlockQueue } from './free-block-queue.ts';

/** What a `BlockStored` event needs from the request whose blocks are being cached. */
export interface StoredBlocksSource {
  readonly loraName: string | null;
  readonly loraId: number | null;
  /** Token ids at positions `[start, end)` of the request (prompt then generated tokens). */
  tokensInRange(start: number, end: number): number[];
  extraKeysForBlock(blockIndex: number): BlockExtraKeys;
}

export interface BlockPoolOptions {
  readonly numBlocks: number;
  readonly blockSize: number;
  /** Buffer KV events (skip it when nobody listens: building them costs a token copy per block). */
  readonly recordEvents: boolean;
}

const MEDIUM_GPU = 'GPU';

export class BlockPool {
  readonly numBlocks: number;
  readonly blockSize: number;
  readonly recordEvents: boolean;
  readonly #refCount: Int32Array;
  readonly #hash: (Uint8Array | null)[];
  readonly #key: (string | null)[];
  readonly #free: FreeBlockQueue;
  // One block id, or several when identical blocks were computed independently (vLLM keeps both).
  readonly #cached = new Map<string, number | number[]>();
  #numCachedBlocks = 0;
  #events: KvEvent[] = [];

  constructor(options: BlockPoolOptions) {
    const { numBlocks, blockSize } = options;
    if (!Number.isInteger(numBlocks) || numBlocks < 1) throw new RangeError(`numBlocks must be >= 1`);
    if (!Number.isInteger(blockSize) || blockSize < 1) throw new RangeError(`blockSize must be >= 1`);
    this.numBlocks = numBlocks;
    this.blockSize = blockSize;
    this.recordEvents = options.recordEvents;
    this.#refCount = new Int32Array(numBlocks);
    this.#hash = new Array<Uint8Array | null>(numBlocks).fill(null);
    this.#key = new Array<string | null>(numBlocks).fill(null);
    this.#free = new FreeBlockQueue(numBlocks);
  }

  /** Blocks not referenced by any request (including cached ones that can still be hit). */
  get numFreeBlocks(): number {
    return this.#free.size;
  }

  get numUsedBlocks(): number {
    return this.numBlocks - this.#free.size;
  }

  /** Blocks currently registered in the prefix cache (in use or free). */
  get numCachedBlocks(): number {
    return this.#numCachedBlocks;
  }

  /** vLLM `get_usage()`: the fraction of blocks referenced by requests. */
  usage(): number {
    return this.numUsedBlocks / this.numBlocks;
  }

  refCount(id: number): number {
    return this.#refCount[id]!;
  }

  blockHash(id: number): Uint8Array | null {
    return this.#hash[id]!;
  }

  /** Free block ids in eviction order, next victim first (allocates; for tests). */
  freeQueueOrder(): number[] {
    return this.#free.toArray();
  }

  /** A block holding `key`, or -1. With duplicates, the first one registered (as vLLM). */
  getCachedBlock(key: string): number {
    const entry = this.#cached.get(key);
    if (entry === undefined) return -1;
    return typeof entry === 'number' ? entry : entry[0]!;
  }

  /** How many of `ids` sit in the free queue, i.e. would take a free slot when touched. */
  countFree(ids: readonly number[]): number {
    let n = 0;
    for (const id of ids) if (this.#refCount[id] === 0) n++;
    return n;
  }

  /** Reference prefix-cache hits, taking the free ones off the eviction queue. */
  touch(ids: readonly number[]): void {
    for (const id of ids) {
      if (this.#refCount[id] === 0) this.#free.remove(id);
      this.#refCount[id]!++;
    }
  }

  /** Take `count` blocks from the head of the free queue (evicting their hashes) into `out`. */
  allocate(count: number, out: number[]): void {
    if (count > this.#free.size) throw new Error(`cannot allocate ${count} blocks, ${this.#free.size} free`);
    for (let i = 0; i < count; i++) {
      const id = this.#free.popFront();
      this.#evict(id);
      this.#refCount[id] = 1;
      out.push(id);
    }
  }

  /**
   * Drop one reference to each block, in the given order. Blocks reaching 0 join the tail of
   * the free queue in that order, so pass a request's blocks tail-first (as vLLM does) to have
   * the end of a prompt evicted before its shared beginning.
   */
  free(idsInEvictionOrder: Iterable<number>): void {
    for (const id of idsInEvictionOrder) {
      const ref = --this.#refCount[id]!;
      if (ref < 0) throw new Error(`block ${id} freed twice`);
      if (ref === 0) this.#free.pushBack(id);
    }
  }

  /**
   * vLLM `cache_full_blocks`: register `blocks[from..to)` under `hashes[from..to)` and announce
   * them with one `BlockStored` whose parent is the hash of block `from - 1` (null at block 0).
   */
  cacheFullBlocks(
    blocks: readonly number[],
    from: number,
    to: number,
    hashes: readonly Uint8Array[],
    keys: readonly string[],
    source: StoredBlocksSource,
  ): void {
    if (from >= to) return;
    for (let i = from; i < to; i++) {
      const id = blocks[i]!;
      if (this.#key[id] !== null) throw new Error(`block ${id} is already cached`);
      const key = keys[i]!;
      this.#hash[id] = hashes[i]!;
      this.#key[id] = key;
      const entry = this.#cached.get(key);
      if (entry === undefined) this.#cached.set(key, id);
      else if (typeof entry === 'number') this.#cached.set(key, [entry, id]);
      else entry.push(id);
      this.#numCachedBlocks++;
    }
    if (!this.recordEvents) return;
    const extraKeys: BlockExtraKeys[] = [];
    for (let i = from; i < to; i++) extraKeys.push(source.extraKeysForBlock(i));
    this.#events.push({
      type: 'BlockStored',
      blockHashes: hashes.slice(from, to),
      parentBlockHash: from > 0 ? hashes[from - 1]! : null,
      tokenIds: source.tokensInRange(from * this.blockSize, to * this.blockSize),
      blockSize: this.blockSize,
      loraId: source.loraId,
      medium: MEDIUM_GPU,
      loraName: source.loraName,
      extraKeys,
    });
  }

  /**
   * vLLM `reset_prefix_cache`: forget every hash, but only when no block is referenced
   * (otherwise running requests would lose blocks they are writing). Emits `AllBlocksCleared`.
   */
  resetPrefixCache(): boolean {
    if (this.numUsedBlocks > 0) return false;
    this.#cached.clear();
    this.#hash.fill(null);
    this.#key.fill(null);
    this.#numCachedBlocks = 0;
    if (this.recordEvents) this.#events.push({ type: 'AllBlocksCleared' });
    return true;
  }

  get hasEvents(): boolean {
    return this.#events.length > 0;
  }

  /** Drain buffered events, oldest first. */
  takeEvents(): KvEvent[] {
    const events = this.#events;
    this.#events = [];
    return events;
  }

  #evict(id: number): void {
    const key = this.#key[id];
    if (key === null || key === undefined) return;
    const hash = this.#hash[id]!;
    const entry = this.#cached.get(key)!;
    if (typeof entry === 'number') {
      this.#cached.delete(key);
    } else {
      entry.splice(entry.indexOf(id), 1);
      if (entry.length === 1) this.#cached.set(key, entry[0]!);
    }
    this.#hash[id] = null;
    this.#key[id] = null;
    this.#numCachedBlocks--;
    if (this.recordEvents)
      this.#events.push({ type: 'BlockRemoved', blockHashes: [hash], medium: MEDIUM_GPU });
  }
}
