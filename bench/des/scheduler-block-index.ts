/**
 * Connects the index store's in-memory block index (fed by KV events through the real
 * `KvEventIngestor`) to the scheduler's precise producer, which reads matches as tier-weighted
 * block counts and writes speculative entries (llm-d `speculativeIndexing`).
 */
import type { MemoryBlockIndex } from '../../src/index-store/memory-index.ts';
import type {
  BlockIndexReader,
  SpeculativeBlockIndexWriter,
} from '../../src/scheduler/producers/block-index-reader.ts';

export class SchedulerBlockIndex implements BlockIndexReader, SpeculativeBlockIndexWriter {
  constructor(private readonly index: MemoryBlockIndex) {}

  longestPrefix(blockKeys: readonly bigint[], endpointIds: readonly string[]): Map<string, number> {
    const out = new Map<string, number>();
    for (const [id, match] of this.index.longestPrefix(blockKeys, endpointIds)) out.set(id, match.weighted);
    return out;
  }

  /** The index keeps its own (virtual) clock, so `nowMs` is not needed. */
  insertSpeculative(endpointId: string, blockKeys: readonly bigint[], _nowMs: number, ttlMs: number): void {
    this.index.recordSpeculative(endpointId, blockKeys, ttlMs);
  }
}
