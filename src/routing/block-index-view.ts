/**
 * Adapts the index-store's reader to the scheduler's precise-prefix seams: lookups return the
 * tier-weighted consecutive match per endpoint, speculative inserts go to the index owner.
 */
import type { BlockKeyList, MaybePromise, PrefixMatch } from '../index-store/block-index.ts';
import type {
  BlockIndexReader,
  SpeculativeBlockIndexWriter,
} from '../scheduler/producers/block-index-reader.ts';

/** The synchronous lookup side of an index (in-memory backends and local mirrors). */
export interface SyncBlockLookup {
  longestPrefix(keys: BlockKeyList, podIds?: Iterable<string>): Map<string, PrefixMatch>;
  recordSpeculative(podId: string, keys: BlockKeyList, ttlMs?: number): MaybePromise<void>;
}

export class BlockIndexView implements BlockIndexReader, SpeculativeBlockIndexWriter {
  constructor(private readonly lookup: SyncBlockLookup) {}

  longestPrefix(blockKeys: readonly bigint[], endpointIds: readonly string[]): Map<string, number> {
    const out = new Map<string, number>();
    for (const [id, match] of this.lookup.longestPrefix(blockKeys, endpointIds)) out.set(id, match.weighted);
    return out;
  }

  insertSpeculative(endpointId: string, blockKeys: readonly bigint[], _nowMs: number, ttlMs: number): void {
    void this.lookup.recordSpeculative(endpointId, blockKeys, ttlMs);
  }
}
