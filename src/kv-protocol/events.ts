/**
 * vLLM KV-cache event model (see shared reference `kv-events-and-hashing.md` §2).
 *
 * These are the in-memory shapes of the events a vLLM engine publishes over ZeroMQ. The simulator
 * produces them, the router's ingestion consumes them. Field names are camelCase here; the wire
 * names (snake_case) live in the encoder/decoder.
 */

/** A block hash as it appears on the wire: a 64-bit unsigned int (default) or raw digest bytes. */
export type WireBlockHash = bigint | Uint8Array;

/**
 * One entry of a block's `extra_keys` tuple: a LoRA name or cache salt (string), a multimodal
 * `(identifier, offset)` pair, or a prompt-embeds digest (bytes).
 */
export type ExtraKey = string | readonly [string, number] | Uint8Array;

/** Per-block extra keys: `null` when nothing applies to the block. */
export type BlockExtraKeys = readonly ExtraKey[] | null;

export interface BlockStored {
  readonly type: 'BlockStored';
  readonly blockHashes: readonly WireBlockHash[];
  /** `null` when the run starts at block 0. */
  readonly parentBlockHash: WireBlockHash | null;
  readonly tokenIds: readonly number[];
  readonly blockSize: number;
  readonly loraId: number | null;
  /** `"GPU"`, `"CPU"`, `"STORAGE"` or null (GPU). */
  readonly medium: string | null;
  readonly loraName: string | null;
  /** One entry per stored block, or null. */
  readonly extraKeys: readonly BlockExtraKeys[] | null;
  readonly groupIdx?: number | null;
  readonly kvCacheSpecKind?: string | null;
  readonly kvCacheSpecSlidingWindow?: number | null;
}

export interface BlockRemoved {
  readonly type: 'BlockRemoved';
  readonly blockHashes: readonly WireBlockHash[];
  readonly medium: string | null;
  readonly groupIdx?: number | null;
}

export interface AllBlocksCleared {
  readonly type: 'AllBlocksCleared';
}

export type KvEvent = BlockStored | BlockRemoved | AllBlocksCleared;

export interface KvEventBatch {
  /** Seconds since the epoch (float64 on the wire). */
  readonly ts: number;
  readonly events: readonly KvEvent[];
  readonly dataParallelRank: number | null;
}
