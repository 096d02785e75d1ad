/**
 * Adapts the index-store's reader to the scheduler's precise-prefix seams: lookups return the
 * tier-weighted consecutive match per endpoint, speculative inserts go to the index owner and,
 * until it has applied them, are read from this thread's own overlay (speculative-overlay.ts).
 */
import type { BlockKeyList, MaybePromise, PrefixMatch } from '../index-store/block-index.ts';
import type {
  BlockIndexReader,
  SpeculativeBlockIndexWriter,
} from '../scheduler/producers/block-index-reader.ts';
import { SpeculativeOverlay } from './speculative-overlay.ts';

/** The synchronous lookup side of an index (in-memory backends and local mirrors). */
export interface SyncBlockLookup {
  longestPrefix(keys: BlockKeyList, podIds?: Iterable<string>): Map<string, PrefixMatch>;
  recordSpeculative(podId: string, keys: BlockKeyList, ttlMs?: number): MaybePromise<void>;
}

export class BlockIndexView implements BlockIndexReader, SpeculativeBlockIndexWriter {
  constructor(
    private readonly lookup: SyncBlockLookup,
    private readonly overlay: SpeculativeOverlay = new SpeculativeOverlay(),
  ) {}

  longestPrefix(blockKeys: readonly bigint[], endpointIds: readonly string[]): Map<string, number> {
    const out = new Map<string, number>();
    for (const [id, match] of this.lookup.longestPrefix(blockKeys, endpointIds)) out.set(id, match.weighted);
    this.overlay.merge(blockKeys, endpointIds, out);
    return out;
  }

  /** Makes `endpointId` hold `keys` for this thread only (another thread's or replica's placement). */
  hold(endpointId: string, keys: readonly bigint[], ttlMs: number): void {
    this.overlay.record(endpointId, keys, ttlMs);
  }

  insertSpeculative(endpointId: string, blockKeys: readonly bigint[], _nowMs: number, ttlMs: number): void {
    this.overlay.record(endpointId, blockKeys, ttlMs);
    void this.lookup.recordSpeculative(endpointId, blockKeys, ttlMs);
  }
}
