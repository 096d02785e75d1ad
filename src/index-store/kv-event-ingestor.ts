/**
 * Applies decoded vLLM KV-event batches of one pod to a {@link BlockIndex}, in order (shared
 * reference `kv-events-and-hashing.md` §4.5 and the checklist of §6).
 *
 * - `BlockStored` with tokens: request keys are computed from `token_ids` with `block-keys.ts` at
 *   the index's block size, chained from the root of (pod model, or `lora_name` when present, cache
 *   salt) when the run starts at block 0, else from the request key the parent's engine hash maps
 *   to for this pod; an unknown parent skips the event. Engine keys come from `block_hashes`.
 * - `BlockStored` without tokens (offload connectors' placeholders): a tier update — the blocks the
 *   hashes already map to are added in the event's tier.
 * - `BlockRemoved`: one reference dropped per hash. `AllBlocksCleared`: the pod is cleared.
 * - Groups whose `kv_cache_spec_kind` is not full attention (sliding window, mamba, …) are skipped:
 *   their blocks do not make a reusable prefix. A group's kind is learned from the events that carry it.
 *
 * Where our keys cannot honestly describe a block, the block is left out rather than indexed under a
 * key a different prompt could also produce:
 * - `extra_keys` other than the LoRA name and block 0's cache salt (multimodal items, prompt
 *   embeddings) end the indexed run at that block, because block keys hash token ids only;
 * - when the engine's block size is not a multiple of the index's, a continuation (non-root) event
 *   cannot be aligned to the index's blocks and is skipped.
 *
 * Every skip is counted by reason in {@link KvEventIngestor.counters}.
 */
import type { BlockExtraKeys, BlockRemoved, BlockStored, KvEvent } from '../kv-protocol/events.ts';
import type { BlockIndex } from './block-index.ts';
import { blockKeyRoot, computeBlockKeys } from './block-keys.ts';
import { tierName } from './device-tiers.ts';

/** KV-cache group kinds whose blocks form reusable prefixes (llm-d's list). */
export const PREFIX_CACHEABLE_SPEC_KINDS: ReadonlySet<string> = new Set([
  'full_attention',
  'mla_attention',
  'sink_full_attention',
]);

export interface IngestCounters {
  batches: number;
  events: number;
  blockStoredEvents: number;
  /** Engine blocks indexed from `BlockStored` events with tokens. */
  blocksStored: number;
  /** Request keys added for them (differs from blocksStored when block sizes differ). */
  requestKeysStored: number;
  tierUpdateEvents: number;
  /** Engine blocks whose tier was updated. */
  tierUpdateBlocks: number;
  blockRemovedEvents: number;
  blocksRemoved: number;
  allBlocksCleared: number;
  /** `BlockStored` skipped: parent engine hash not mapped for this pod. */
  skippedParentUnknown: number;
  /** Events skipped: their KV-cache group is not full attention. */
  skippedUnsupportedSpecKind: number;
  /** `BlockStored` skipped: `len(token_ids) != len(block_hashes) * block_size`. */
  skippedTokenCountMismatch: number;
  /** `BlockStored` continuations skipped: engine block size not a multiple of the index's. */
  skippedUnalignedBlockSize: number;
  /** `BlockStored` from block 0 skipped: neither a pod model nor a LoRA name to root the keys. */
  skippedNoModel: number;
  /** Engine blocks left out because of multimodal / prompt-embeds extra keys. */
  blocksSkippedExtraKeys: number;
  /** Tier-update hashes with no known request key. */
  tierUpdateUnknownHashes: number;
}

interface PodState {
  /** KV-cache group index → spec kind, learned from events. */
  readonly groupKinds: Map<number, string>;
}

export class KvEventIngestor {
  readonly #index: BlockIndex;
  readonly #pods = new Map<string, PodState>();
  readonly counters: IngestCounters = {
    batches: 0,
    events: 0,
    blockStoredEvents: 0,
    blocksStored: 0,
    requestKeysStored: 0,
    tierUpdateEvents: 0,
    tierUpdateBlocks: 0,
    blockRemovedEvents: 0,
    blocksRemoved: 0,
    allBlocksCleared: 0,
    skippedParentUnknown: 0,
    skippedUnsupportedSpecKind: 0,
    skippedTokenCountMismatch: 0,
    skippedUnalignedBlockSize: 0,
    skippedNoModel: 0,
    blocksSkippedExtraKeys: 0,
    tierUpdateUnknownHashes: 0,
  };

  constructor(index: BlockIndex) {
    this.#index = index;
  }

  /**
   * Applies one batch's events for `podId`, in order. Resolves once the index has them; with the
   * in-memory index everything happens before the first `await` returns.
   *
   * @param model the pod's served base model (the topic's model), the root of its block keys.
   */
  async applyBatch(podId: string, model: string, events: readonly KvEvent<bigint>[]): Promise<void> {
    this.counters.batches++;
    for (const event of events) {
      this.counters.events++;
      switch (event.type) {
        case 'BlockStored': {
          const pending = this.#applyStored(podId, model, event);
          if (pending) await pending;
          break;
        }
        case 'BlockRemoved': {
          const pending = this.#applyRemoved(podId, event);
          if (pending) await pending;
          break;
        }
        case 'AllBlocksCleared': {
          this.counters.allBlocksCleared++;
          const pending = this.#index.clearPod(podId);
          if (pending) await pending;
          break;
        }
      }
    }
  }

  /** Drops what the ingestor learned about a pod (call with the index's `removePod`). */
  forgetPod(podId: string): void {
    this.#pods.delete(podId);
  }

  #applyStored(podId: string, model: string, event: BlockStored<bigint>): Promise<void> | undefined {
    this.counters.blockStoredEvents++;
    if (!this.#groupSupported(podId, event.groupIdx, event.kvCacheSpecKind)) {
      this.counters.skippedUnsupportedSpecKind++;
      return undefined;
    }
    if (event.tokenIds.length === 0) return this.#applyTierUpdate(podId, event);

    const hashes = event.blockHashes;
    const engineBlockSize = event.blockSize;
    if (engineBlockSize <= 0 || event.tokenIds.length !== hashes.length * engineBlockSize) {
      this.counters.skippedTokenCountMismatch++;
      return undefined;
    }
    const aligned = engineBlockSize % this.#index.blockSize === 0;
    if (event.parentBlockHash !== null && !aligned) {
      this.counters.skippedUnalignedBlockSize++;
      return undefined;
    }

    const isRoot = event.parentBlockHash === null;
    const { usable, salt } = scanExtraKeys(event.extraKeys, event.loraName, isRoot, hashes.length);
    this.counters.blocksSkippedExtraKeys += hashes.length - usable;
    if (usable === 0) return undefined;

    if (isRoot) {
      if (!model && !event.loraName) {
        this.counters.skippedNoModel++;
        return undefined;
      }
      return this.#store(podId, event, usable, blockKeyRoot(model, event.loraName, salt));
    }
    const parent = this.#index.requestKeyFor(podId, event.parentBlockHash!);
    if (parent instanceof Promise) return parent.then((key) => this.#storeUnder(podId, event, usable, key));
    return this.#storeUnder(podId, event, usable, parent);
  }

  #storeUnder(
    podId: string,
    event: BlockStored<bigint>,
    usable: number,
    parent: bigint | undefined,
  ): Promise<void> | undefined {
    if (parent === undefined) {
      this.counters.skippedParentUnknown++;
      return undefined;
    }
    return this.#store(podId, event, usable, parent);
  }

  #store(
    podId: string,
    event: BlockStored<bigint>,
    usable: number,
    parentKey: bigint,
  ): Promise<void> | undefined {
    const whole = usable === event.blockHashes.length;
    const tokens = whole ? event.tokenIds : event.tokenIds.slice(0, usable * event.blockSize);
    const engineKeys = whole ? event.blockHashes : event.blockHashes.slice(0, usable);
    const requestKeys = computeBlockKeys(tokens, this.#index.blockSize, parentKey);
    this.counters.blocksStored += usable;
    this.counters.requestKeysStored += requestKeys.length;
    return this.#index.add(podId, tierName(event.medium), requestKeys, engineKeys) ?? undefined;
  }

  async #applyTierUpdate(podId: string, event: BlockStored<bigint>): Promise<void> {
    this.counters.tierUpdateEvents++;
    const tier = tierName(event.medium);
    for (const hash of event.blockHashes) {
      let keys = this.#index.requestKeysFor(podId, hash);
      if (keys instanceof Promise) keys = await keys;
      if (keys.length === 0) {
        this.counters.tierUpdateUnknownHashes++;
        continue;
      }
      this.counters.tierUpdateBlocks++;
      const pending = this.#index.add(podId, tier, keys, null);
      if (pending) await pending;
    }
  }

  #applyRemoved(podId: string, event: BlockRemoved<bigint>): Promise<void> | undefined {
    this.counters.blockRemovedEvents++;
    if (!this.#groupSupported(podId, event.groupIdx, null)) {
      this.counters.skippedUnsupportedSpecKind++;
      return undefined;
    }
    const tier = tierName(event.medium);
    this.counters.blocksRemoved += event.blockHashes.length;
    let chain: Promise<void> | undefined;
    for (const hash of event.blockHashes) {
      if (chain) {
        chain = chain.then(() => this.#index.removeByEngineKey(podId, tier, hash));
      } else {
        const pending = this.#index.removeByEngineKey(podId, tier, hash);
        if (pending) chain = pending;
      }
    }
    return chain;
  }

  /** Whether a group's blocks can be indexed; learns the group's kind when the event names it. */
  #groupSupported(
    podId: string,
    groupIdx: number | null | undefined,
    kind: string | null | undefined,
  ): boolean {
    let resolved = kind ?? undefined;
    if (groupIdx !== null && groupIdx !== undefined) {
      let state = this.#pods.get(podId);
      if (!state) {
        state = { groupKinds: new Map() };
        this.#pods.set(podId, state);
      }
      if (resolved) state.groupKinds.set(groupIdx, resolved);
      else resolved = state.groupKinds.get(groupIdx);
    }
    // No kind anywhere: an engine from before hybrid-model groups, i.e. full attention.
    return resolved === undefined || PREFIX_CACHEABLE_SPEC_KINDS.has(resolved);
  }
}

/**
 * How many leading blocks our token-only keys describe faithfully, and the cache salt of a run from
 * block 0. vLLM's per-block extra keys are: the LoRA name (every block; already in the root via
 * `lora_name`), multimodal items (`[identifier, offset]`, or a bare identifier string on older
 * engines), the cache salt (a string, block 0 only) and prompt-embeds digests (bytes).
 */
function scanExtraKeys(
  extraKeys: readonly BlockExtraKeys[] | null,
  loraName: string | null,
  isRoot: boolean,
  blocks: number,
): { usable: number; salt: string | null } {
  let salt: string | null = null;
  if (!extraKeys) return { usable: blocks, salt };
  for (let block = 0; block < blocks; block++) {
    const keys = extraKeys[block];
    if (!keys) continue;
    for (const key of keys) {
      if (typeof key === 'string') {
        if (key === loraName) continue;
        // A bare string on block 0 of a run from the start is the salt; a second one is ambiguous.
        if (block === 0 && isRoot && salt === null) {
          salt = key;
          continue;
        }
      }
      return { usable: block, salt };
    }
  }
  return { usable: blocks, salt };
}
