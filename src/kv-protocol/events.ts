/**
 * vLLM KV-cache event model (shared reference `kv-events-and-hashing.md` §1.5 and §2.2).
 *
 * These are the in-memory shapes of the events a vLLM engine publishes over ZeroMQ. The simulator
 * produces them, the router's ingestion consumes them. Field names are camelCase here; the wire
 * names (snake_case) live in the encoder/decoder.
 *
 * The hash type is a parameter: emitters may hold raw digests or 64-bit ints (`WireBlockHash`),
 * while the decoder always hands out normalized unsigned 64-bit ints (`KvEvent<bigint>`), the form
 * every consumer keys on (§2.4).
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

export interface BlockStored<H extends WireBlockHash = WireBlockHash> {
  readonly type: 'BlockStored';
  readonly blockHashes: readonly H[];
  /** `null` when the run starts at block 0. */
  readonly parentBlockHash: H | null;
  readonly tokenIds: readonly number[];
  readonly blockSize: number;
  /** Deprecated upstream (`lora_request.adapter_id`); `lora_name` is what hashing uses. */
  readonly loraId: number | null;
  /** `"GPU"`, `"CPU"`, `"STORAGE"` or null (GPU). */
  readonly medium: string | null;
  readonly loraName: string | null;
  /** One entry per stored block, or null. */
  readonly extraKeys: readonly BlockExtraKeys[] | null;
  /** KV-cache group index (vLLM #37688). */
  readonly groupIdx?: number | null;
  /** e.g. `full_attention`, `sliding_window` (vLLM #40984). */
  readonly kvCacheSpecKind?: string | null;
  readonly kvCacheSpecSlidingWindow?: number | null;
  /** `"LOCAL"` or `"REMOTE"` for filesystem/object offload tiers (vLLM #48281). */
  readonly locality?: string | null;
}

export interface BlockRemoved<H extends WireBlockHash = WireBlockHash> {
  readonly type: 'BlockRemoved';
  readonly blockHashes: readonly H[];
  readonly medium: string | null;
  readonly groupIdx?: number | null;
  readonly locality?: string | null;
}

export interface AllBlocksCleared {
  readonly type: 'AllBlocksCleared';
}

export type KvEvent<H extends WireBlockHash = WireBlockHash> =
  BlockStored<H> | BlockRemoved<H> | AllBlocksCleared;

export interface KvEventBatch<H extends WireBlockHash = WireBlockHash> {
  /** Seconds since the epoch (float64 on the wire). */
  readonly ts: number;
  readonly events: readonly KvEvent<H>[];
  readonly dataParallelRank: number | null;
}
