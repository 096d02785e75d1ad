/**
 * Encodes a {@link KvEventBatch} exactly as vLLM's `msgspec.msgpack.Encoder().encode(KVEventBatch)`
 * (shared reference `kv-events-and-hashing.md` §2; byte-checked against
 * `reference/vectors/kv-event-batch.json`).
 *
 * The batch is always an array `[ts, events, data_parallel_rank]`. Events come in two wire
 * generations:
 * - `array` (vLLM before PR #42892): `[tag, field1, …]` with every field the emulated vLLM version
 *   declares, `nil` when None. {@link ArrayFieldSet} picks the version by the last field it added.
 * - `map` (PR #42892 and later): `{"type": tag, …}` in declaration order; fields that have a default
 *   (`extra_keys`, `group_idx`, spec kind/window, `locality`) are omitted when None.
 */
import type {
  BlockExtraKeys,
  BlockRemoved,
  BlockStored,
  KvEvent,
  KvEventBatch,
  WireBlockHash,
} from './events.ts';
import { MsgpackWriter } from './msgpack-writer.ts';
import { digestToEventInt } from './vllm-block-hash.ts';

export { encodeSequence } from './sequence.ts';

/**
 * Which vLLM field set the positional (`array`) form carries, named by the last field added:
 *
 * | set | BlockStored length | BlockRemoved length | batch |
 * |---|---|---|---|
 * | `initial` (#16750, v0.9.0) | 6 | 2 | `[ts, events]` |
 * | `medium` (#19737) | 7 | 3 | 3 elements from here on |
 * | `lora_name` (#27577) | 8 | 3 | |
 * | `extra_keys` (#33304) | 9 | 3 | |
 * | `group_idx` (#37688) | 10 | 4 | |
 * | `kv_cache_spec` (#40984, default) | 12 | 4 | |
 * | `locality` (#48281) | 13 | 5 | |
 */
export type ArrayFieldSet =
  'initial' | 'medium' | 'lora_name' | 'extra_keys' | 'group_idx' | 'kv_cache_spec' | 'locality';

/** `int`: uint64 from the digest's last 8 bytes (vLLM default); `bytes`: the raw digest as `bin`. */
export type WireHashType = 'int' | 'bytes';

export interface KvEventEncoderOptions {
  /** Default `array`. */
  readonly format?: 'array' | 'map';
  /** Positional field set (array format only). Default `kv_cache_spec` (12-element BlockStored). */
  readonly arrayFieldSet?: ArrayFieldSet;
  /**
   * How hashes go on the wire (`VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES`). Default `int`. With `bytes`, a
   * hash held only as a bigint is written as its 8-byte big-endian form.
   */
  readonly hashType?: WireHashType;
}

const STORED_FIELD_COUNT: Record<ArrayFieldSet, number> = {
  initial: 5,
  medium: 6,
  lora_name: 7,
  extra_keys: 8,
  group_idx: 9,
  kv_cache_spec: 11,
  locality: 12,
};

const REMOVED_FIELD_COUNT: Record<ArrayFieldSet, number> = {
  initial: 1,
  medium: 2,
  lora_name: 2,
  extra_keys: 2,
  group_idx: 3,
  kv_cache_spec: 3,
  locality: 4,
};

/** A reusable encoder; each call returns a fresh buffer the caller may keep. */
export class KvEventEncoder {
  readonly #writer = new MsgpackWriter();
  readonly #map: boolean;
  readonly #fieldSet: ArrayFieldSet;
  readonly #intHashes: boolean;

  constructor(options: KvEventEncoderOptions = {}) {
    this.#map = options.format === 'map';
    this.#fieldSet = options.arrayFieldSet ?? 'kv_cache_spec';
    this.#intHashes = (options.hashType ?? 'int') === 'int';
  }

  encode(batch: KvEventBatch): Buffer {
    const w = this.#writer;
    w.reset();
    const withRank = this.#map || this.#fieldSet !== 'initial';
    w.writeArrayHeader(withRank ? 3 : 2);
    w.writeFloat64(batch.ts);
    w.writeArrayHeader(batch.events.length);
    for (const event of batch.events) this.#writeEvent(event);
    if (withRank) this.#writeOptionalInt(batch.dataParallelRank);
    return w.toBuffer();
  }

  #writeEvent(event: KvEvent): void {
    switch (event.type) {
      case 'BlockStored':
        if (this.#map) this.#writeStoredMap(event);
        else this.#writeStoredArray(event);
        return;
      case 'BlockRemoved':
        if (this.#map) this.#writeRemovedMap(event);
        else this.#writeRemovedArray(event);
        return;
      case 'AllBlocksCleared':
        if (this.#map) {
          this.#writer.writeMapHeader(1);
          this.#writer.writeString('type');
        } else {
          this.#writer.writeArrayHeader(1);
        }
        this.#writer.writeString('AllBlocksCleared');
        return;
    }
  }

  #writeStoredArray(e: BlockStored): void {
    const w = this.#writer;
    const n = STORED_FIELD_COUNT[this.#fieldSet];
    w.writeArrayHeader(1 + n);
    w.writeString('BlockStored');
    this.#writeHashes(e.blockHashes);
    this.#writeOptionalHash(e.parentBlockHash);
    this.#writeTokens(e.tokenIds);
    w.writeInt(e.blockSize);
    this.#writeOptionalInt(e.loraId);
    if (n >= 6) this.#writeOptionalString(e.medium);
    if (n >= 7) this.#writeOptionalString(e.loraName);
    if (n >= 8) this.#writeExtraKeys(e.extraKeys);
    if (n >= 9) this.#writeOptionalInt(e.groupIdx ?? null);
    if (n >= 11) {
      this.#writeOptionalString(e.kvCacheSpecKind ?? null);
      this.#writeOptionalInt(e.kvCacheSpecSlidingWindow ?? null);
    }
    if (n >= 12) this.#writeOptionalString(e.locality ?? null);
  }

  #writeStoredMap(e: BlockStored): void {
    const w = this.#writer;
    const extraKeys = e.extraKeys ?? null;
    const groupIdx = e.groupIdx ?? null;
    const specKind = e.kvCacheSpecKind ?? null;
    const window = e.kvCacheSpecSlidingWindow ?? null;
    const locality = e.locality ?? null;
    const defaulted = [extraKeys, groupIdx, specKind, window, locality].filter((v) => v !== null).length;
    w.writeMapHeader(8 + defaulted);
    w.writeString('type');
    w.writeString('BlockStored');
    w.writeString('block_hashes');
    this.#writeHashes(e.blockHashes);
    w.writeString('parent_block_hash');
    this.#writeOptionalHash(e.parentBlockHash);
    w.writeString('token_ids');
    this.#writeTokens(e.tokenIds);
    w.writeString('block_size');
    w.writeInt(e.blockSize);
    w.writeString('lora_id');
    this.#writeOptionalInt(e.loraId);
    w.writeString('medium');
    this.#writeOptionalString(e.medium);
    w.writeString('lora_name');
    this.#writeOptionalString(e.loraName);
    if (extraKeys !== null) {
      w.writeString('extra_keys');
      this.#writeExtraKeys(extraKeys);
    }
    if (groupIdx !== null) {
      w.writeString('group_idx');
      w.writeInt(groupIdx);
    }
    if (specKind !== null) {
      w.writeString('kv_cache_spec_kind');
      w.writeString(specKind);
    }
    if (window !== null) {
      w.writeString('kv_cache_spec_sliding_window');
      w.writeInt(window);
    }
    if (locality !== null) {
      w.writeString('locality');
      w.writeString(locality);
    }
  }

  #writeRemovedArray(e: BlockRemoved): void {
    const w = this.#writer;
    const n = REMOVED_FIELD_COUNT[this.#fieldSet];
    w.writeArrayHeader(1 + n);
    w.writeString('BlockRemoved');
    this.#writeHashes(e.blockHashes);
    if (n >= 2) this.#writeOptionalString(e.medium);
    if (n >= 3) this.#writeOptionalInt(e.groupIdx ?? null);
    if (n >= 4) this.#writeOptionalString(e.locality ?? null);
  }

  #writeRemovedMap(e: BlockRemoved): void {
    const w = this.#writer;
    const groupIdx = e.groupIdx ?? null;
    const locality = e.locality ?? null;
    w.writeMapHeader(3 + (groupIdx !== null ? 1 : 0) + (locality !== null ? 1 : 0));
    w.writeString('type');
    w.writeString('BlockRemoved');
    w.writeString('block_hashes');
    this.#writeHashes(e.blockHashes);
    w.writeString('medium');
    this.#writeOptionalString(e.medium);
    if (groupIdx !== null) {
      w.writeString('group_idx');
      w.writeInt(groupIdx);
    }
    if (locality !== null) {
      w.writeString('locality');
      w.writeString(locality);
    }
  }

  #writeHashes(hashes: readonly WireBlockHash[]): void {
    this.#writer.writeArrayHeader(hashes.length);
    for (const h of hashes) this.#writeHash(h);
  }

  #writeOptionalHash(hash: WireBlockHash | null): void {
    if (hash === null) this.#writer.writeNil();
    else this.#writeHash(hash);
  }

  #writeHash(hash: WireBlockHash): void {
    if (this.#intHashes) {
      this.#writer.writeBigInt(typeof hash === 'bigint' ? BigInt.asUintN(64, hash) : digestToEventInt(hash));
    } else if (typeof hash === 'bigint') {
      const bytes = Buffer.allocUnsafe(8);
      bytes.writeBigUInt64BE(BigInt.asUintN(64, hash), 0);
      this.#writer.writeBinary(bytes);
    } else {
      this.#writer.writeBinary(hash);
    }
  }

  #writeTokens(tokens: readonly number[]): void {
    this.#writer.writeArrayHeader(tokens.length);
    for (const t of tokens) this.#writer.writeInt(t);
  }

  #writeExtraKeys(extraKeys: readonly BlockExtraKeys[] | null): void {
    const w = this.#writer;
    if (extraKeys === null) {
      w.writeNil();
      return;
    }
    w.writeArrayHeader(extraKeys.length);
    for (const block of extraKeys) {
      if (block === null) {
        w.writeNil();
        continue;
      }
      w.writeArrayHeader(block.length);
      for (const key of block) {
        if (typeof key === 'string') {
          w.writeString(key);
        } else if (key instanceof Uint8Array) {
          w.writeBinary(key);
        } else {
          w.writeArrayHeader(2);
          w.writeString(key[0]);
          w.writeInt(key[1]);
        }
      }
    }
  }

  #writeOptionalInt(value: number | null): void {
    if (value === null) this.#writer.writeNil();
    else this.#writer.writeInt(value);
  }

  #writeOptionalString(value: string | null): void {
    if (value === null) this.#writer.writeNil();
    else this.#writer.writeString(value);
  }
}

/** One-shot form of {@link KvEventEncoder.encode}. */
export function encodeEventBatch(batch: KvEventBatch, options?: KvEventEncoderOptions): Buffer {
  return new KvEventEncoder(options).encode(batch);
}
