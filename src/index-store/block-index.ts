/**
 * The KV block index: which pod holds which prompt block, in which device tier (shared reference
 * `kv-events-and-hashing.md` §4.3–§4.6).
 *
 * Two key spaces meet here:
 * - request keys: kvedge's own chained block keys (`block-keys.ts`), computed from token ids on both
 *   the lookup and the ingestion path; the index is keyed by them;
 * - engine keys: the opaque 64-bit block hashes vLLM puts in its events, needed only to resolve
 *   `BlockRemoved` and `parent_block_hash`. The index keeps an engine → request map per pod.
 *
 * Backends: the in-memory shared-memory table (`memory-index.ts`) and Redis. Mutations and the
 * engine-key lookup may be asynchronous (`MaybePromise`) so Redis fits unchanged; the in-memory
 * backend narrows every signature to synchronous results.
 */

export type MaybePromise<T> = T | Promise<T>;

/** A sequence of 64-bit block keys; a `BigUint64Array` (what `computeBlockKeys` returns) is fastest. */
export type BlockKeyList = readonly bigint[] | BigUint64Array;

/** Default lifetime of a speculative entry (llm-d `speculativeTTL`). */
export const DEFAULT_SPECULATIVE_TTL_MS = 2000;

export interface AddOptions {
  /**
   * A routing-time guess (the pod was just sent this prompt) rather than an engine report: carries no
   * engine keys, expires after `ttlMs`, and yields to a confirmed entry of the same pod.
   */
  readonly speculative?: boolean;
  /** Lifetime of a speculative entry; default {@link DEFAULT_SPECULATIVE_TTL_MS}. */
  readonly ttlMs?: number;
}

/** One pod's match for a prompt. */
export interface PrefixMatch {
  /** Consecutive blocks from block 0 the pod holds in any tier. */
  readonly blocks: number;
  /** The same blocks, each counted with the pod's best tier weight for it (gpu 1.0, cpu 0.8, …). */
  readonly weighted: number;
}

export interface BlockIndexStats {
  /** Request keys present in the index (including keys whose entries are all dead but not yet reclaimed). */
  readonly keys: number;
  /** Live (pod, tier) entries, speculative ones included. */
  readonly entries: number;
  readonly speculativeEntries: number;
  /** Engine → request mappings held. */
  readonly engineMappings: number;
  /** Bytes the backend holds for the index (shared and private), or an estimate. */
  readonly memoryBytes: number;
  /** Keys dropped to make room (capacity bound). */
  readonly evictedKeys: number;
  /** Pod entries dropped because a key already had its maximum number of pods. */
  readonly evictedEntries: number;
  /** `removeByEngineKey` calls whose engine key had no mapping for that pod. */
  readonly unknownEngineKeyRemovals: number;
}

/** The read side the router needs on every request. */
export interface BlockIndexLookup {
  /**
   * Longest consecutive run of `requestKeys`, from key 0, that each pod holds (§4.6). A pod counts at
   * key i only if it also held keys 0..i-1; its per-key weight is the best weight among its tiers.
   * Pods with no match are absent from the result.
   *
   * @param podIds restrict the answer to these pods; omitted = all pods.
   */
  longestPrefix(requestKeys: BlockKeyList, podIds?: Iterable<string>): MaybePromise<Map<string, PrefixMatch>>;

  /**
   * Records that `podId` is about to compute `requestKeys` (it was just routed this prompt), so the
   * next requests see the prefix there before the engine's events arrive. Entries expire after
   * `ttlMs` and never override a confirmed entry.
   */
  recordSpeculative(podId: string, requestKeys: BlockKeyList, ttlMs?: number): MaybePromise<void>;
}

/** The full index: lookups plus the mutations KV-event ingestion drives. */
export interface BlockIndex extends BlockIndexLookup {
  /** Canonical block size, in tokens, of the request keys this index holds. */
  readonly blockSize: number;

  /**
   * Records that `podId` holds `requestKeys` in `tier`. Each call adds one reference per (key, pod,
   * tier), so a block stored twice needs two removals.
   *
   * @param tier device tier as reported by the engine (`"GPU"`, `"cpu"`, …); matched case-insensitively.
   * @param engineKeys the engine hashes of the same blocks, or null (speculative inserts and tier
   *   updates). When the engine's block size differs from the index's, the lists differ in length and
   *   are paired by the ratio rule (§4.3): with n = max(E, R), engine key ⌊i·E/n⌋ maps to request key
   *   ⌊i·R/n⌋ for every i < n.
   */
  add(
    podId: string,
    tier: string,
    requestKeys: BlockKeyList,
    engineKeys: readonly bigint[] | null,
    opts?: AddOptions,
  ): MaybePromise<void>;

  /**
   * Drops one reference of `podId`'s `tier` entry for every request key `engineKey` maps to; an entry
   * disappears when its count reaches zero. Unknown engine keys are counted and ignored.
   */
  removeByEngineKey(podId: string, tier: string, engineKey: bigint): MaybePromise<void>;

  /** Removes `podId`'s `tier` entries (all references, confirmed or speculative) for `requestKeys`. */
  removeByRequestKeys(podId: string, tier: string, requestKeys: BlockKeyList): MaybePromise<void>;

  /** Forgets every confirmed entry and engine mapping of `podId`, in all tiers. */
  clearPod(podId: string): MaybePromise<void>;

  /** {@link clearPod} plus speculative entries, and releases whatever the backend holds for the pod. */
  removePod(podId: string): MaybePromise<void>;

  /**
   * The request key `engineKey` maps to for `podId` (the last one when it maps to several), or
   * undefined. Engine hashes are scoped per pod because vLLM's hashes do not include the model: two
   * pods serving different models can report the same hash for different request keys.
   */
  requestKeyFor(podId: string, engineKey: bigint): MaybePromise<bigint | undefined>;

  /**
   * Every request key `engineKey` maps to for `podId`, in block order (several when the engine's
   * blocks are larger than the index's); empty when unknown.
   */
  requestKeysFor(podId: string, engineKey: bigint): MaybePromise<readonly bigint[]>;

  stats(): MaybePromise<BlockIndexStats>;
}
