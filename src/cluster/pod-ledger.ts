/**
 * The exact confirmed state of one pod the local replica ingests: reference counts per (request
 * key, tier) and the engine → request key mappings, following the in-memory index's rules
 * (references saturate at 7; a mapping lives while any of its keys is still held; key 0 is never
 * stored). The mirror cannot be enumerated, the ledger can: it is what the owner writes to the
 * Redis snapshot, field by field as changes happen, and in full when Redis lost it.
 *
 * Speculative entries are not here: they expire within seconds and travel only in the stream.
 *
 * Memory: about 80 bytes per request key and 80 per engine key held (Map entries with bigint
 * keys), at most `cap` of each.
 */
import type { BlockKeyList } from '../index-store/block-index.ts';
import { MAX_KEYS_PER_ENGINE_KEY } from '../index-store/engine-key-map.ts';
import { forEachEngineRun } from '../index-store/ratio-rule.ts';

const TIER_BITS = 3;
const MAX_REFS = 7;
const TIERS = 4;

/** References of `tier` in a packed per-tier count. */
export function tierRefs(packed: number, tier: number): number {
  return (packed >>> (tier * TIER_BITS)) & MAX_REFS;
}

function withRefs(packed: number, tier: number, refs: number): number {
  const shift = tier * TIER_BITS;
  return (packed & ~(MAX_REFS << shift)) | (refs << shift);
}

/** Request keys one engine key maps to: a single key (the common case) or several. */
export type EngineMapping = bigint | BigUint64Array;

/** Field-level changes since the last {@link PodLedger.takeChanges}, for the Redis snapshot. */
export interface LedgerChanges {
  /** The snapshot must be emptied before the sets and deletes below apply. */
  readonly cleared: boolean;
  readonly blockSets: [bigint, number][];
  readonly blockDeletes: bigint[];
  readonly engineSets: [bigint, EngineMapping][];
  readonly engineDeletes: bigint[];
}

export class PodLedger {
  readonly blocks = new Map<bigint, number>();
  readonly engine = new Map<bigint, EngineMapping>();
  readonly cap: number;
  /** Keys or mappings not recorded because the ledger was at its cap. */
  droppedAtCap = 0;
  #dirtyBlocks = new Set<bigint>();
  #dirtyEngine = new Set<bigint>();
  #cleared = false;

  constructor(cap: number) {
    this.cap = cap;
  }

  /** One reference per key in `tier`, and the engine mappings by the ratio rule. */
  add(tier: number, keys: BlockKeyList, engineKeys: readonly bigint[] | BigUint64Array | null): void {
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      if (key === 0n) continue;
      const packed = this.blocks.get(key);
      if (packed === undefined && this.blocks.size >= this.cap) {
        this.droppedAtCap++;
        continue;
      }
      const refs = tierRefs(packed ?? 0, tier);
      if (refs < MAX_REFS) this.#setBlock(key, withRefs(packed ?? 0, tier, refs + 1));
    }
    if (!engineKeys || engineKeys.length === 0) return;
    forEachEngineRun(engineKeys.length, keys.length, (e, first, count) => {
      const engineKey = engineKeys[e]!;
      if (!this.engine.has(engineKey) && this.engine.size >= this.cap) {
        this.droppedAtCap++;
        return;
      }
      const n = Math.min(count, MAX_KEYS_PER_ENGINE_KEY);
      const mapping: EngineMapping =
        n === 1 ? keys[first]! : BigUint64Array.from({ length: n }, (_, j) => keys[first + j]!);
      this.engine.set(engineKey, mapping);
      this.#dirtyEngine.add(engineKey);
    });
  }

  /** Drops one reference per mapped key; forgets the mapping once none of its keys is held. */
  removeByEngineKey(tier: number, engineKey: bigint): void {
    const mapping = this.engine.get(engineKey);
    if (mapping === undefined) return;
    let held = false;
    for (const key of mappedKeys(mapping)) {
      const packed = this.blocks.get(key);
      if (packed === undefined) continue;
      const refs = tierRefs(packed, tier);
      if (refs > 0) this.#setBlock(key, withRefs(packed, tier, refs - 1));
      held ||= this.blocks.has(key);
    }
    if (!held) {
      this.engine.delete(engineKey);
      this.#dirtyEngine.add(engineKey);
    }
  }

  /** Removes every reference of `tier` for the keys. */
  removeByRequestKeys(tier: number, keys: BlockKeyList): void {
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const packed = this.blocks.get(key);
      if (packed !== undefined && tierRefs(packed, tier) > 0) this.#setBlock(key, withRefs(packed, tier, 0));
    }
  }

  /** Forgets everything (the pod cleared its cache). */
  clear(): void {
    this.blocks.clear();
    this.engine.clear();
    this.#dirtyBlocks.clear();
    this.#dirtyEngine.clear();
    this.#cleared = true;
  }

  /** Whether changes are waiting for {@link takeChanges}. */
  get dirty(): boolean {
    return this.#cleared || this.#dirtyBlocks.size > 0 || this.#dirtyEngine.size > 0;
  }

  /** The field changes since the last call, and forgets them. */
  takeChanges(): LedgerChanges {
    const blockSets: [bigint, number][] = [];
    const blockDeletes: bigint[] = [];
    for (const key of this.#dirtyBlocks) {
      const packed = this.blocks.get(key);
      if (packed === undefined) blockDeletes.push(key);
      else blockSets.push([key, packed]);
    }
    const engineSets: [bigint, EngineMapping][] = [];
    const engineDeletes: bigint[] = [];
    for (const key of this.#dirtyEngine) {
      const mapping = this.engine.get(key);
      if (mapping === undefined) engineDeletes.push(key);
      else engineSets.push([key, mapping]);
    }
    const changes = { cleared: this.#cleared, blockSets, blockDeletes, engineSets, engineDeletes };
    this.#dirtyBlocks = new Set();
    this.#dirtyEngine = new Set();
    this.#cleared = false;
    return changes;
  }

  /** Forgets pending changes (a full republish carries the whole state instead). */
  discardChanges(): void {
    this.#dirtyBlocks.clear();
    this.#dirtyEngine.clear();
    this.#cleared = false;
  }

  #setBlock(key: bigint, packed: number): void {
    if (packed === 0) this.blocks.delete(key);
    else this.blocks.set(key, packed);
    this.#dirtyBlocks.add(key);
  }
}

/** The request keys of a mapping, in block order. */
export function mappedKeys(mapping: EngineMapping): Iterable<bigint> {
  return typeof mapping === 'bigint' ? [mapping] : mapping;
}

/** Tier codes with at least one reference in a packed count. */
export function heldTiers(packed: number): number[] {
  const out: number[] = [];
  for (let tier = 0; tier < TIERS; tier++) if (tierRefs(packed, tier) > 0) out.push(tier);
  return out;
}
