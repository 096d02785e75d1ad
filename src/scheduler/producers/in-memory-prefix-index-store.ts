/**
 * In-memory {@link PrefixIndexStore}: llm-d's `hashToPods` map plus one LRU of block hashes per
 * endpoint, whose eviction removes the endpoint from the hash's holder set (llm-d-router.md §2.7).
 *
 * Two deliberate differences from llm-d:
 * - `longestPrefix` requires each endpoint to hold every block up to its count (llm-d counts any
 *   block found during the walk, even after the endpoint lost an earlier one).
 * - `add` records a prompt's blocks last-to-first, so the shared leading blocks are the most
 *   recently used and a full LRU evicts prompt tails first, as vLLM's own cache does. llm-d records
 *   first-to-last, which evicts the shared prefix first.
 */
import type { PrefixIndexStore } from './prefix-index-store.ts';

/**
 * Holders of one block: a bare endpoint id in the common single-holder case, a Set beyond. Saves
 * one Set allocation per recorded block, which otherwise dominates heap and GC time.
 */
type Holders = string | Set<string>;

/** Per-endpoint LRU: a Map's insertion order is its recency order (oldest first). */
interface EndpointBlocks {
  capacity: number;
  readonly blocks: Map<bigint, true>;
}

export class InMemoryPrefixIndexStore implements PrefixIndexStore {
  private readonly holders = new Map<bigint, Holders>();
  private readonly endpoints = new Map<string, EndpointBlocks>();

  longestPrefix(hashes: readonly bigint[]): Map<string, number> {
    const result = new Map<string, number>();
    let alive: Set<string> | null = null;
    for (let i = 0; i < hashes.length; i++) {
      const holding = this.holders.get(hashes[i] as bigint);
      if (holding === undefined) break;
      if (alive === null) {
        alive = new Set(typeof holding === 'string' ? [holding] : holding);
      } else {
        for (const id of alive) if (!holds(holding, id)) alive.delete(id);
      }
      if (alive.size === 0) break;
      for (const id of alive) result.set(id, i + 1);
    }
    return result;
  }

  add(endpointId: string, hashes: readonly bigint[], capacity: number): void {
    if (capacity <= 0) return;
    let entry = this.endpoints.get(endpointId);
    if (!entry) {
      entry = { capacity, blocks: new Map() };
      this.endpoints.set(endpointId, entry);
    }
    entry.capacity = capacity;
    const { blocks } = entry;
    for (let i = hashes.length - 1; i >= 0; i--) {
      const hash = hashes[i] as bigint;
      if (blocks.delete(hash)) {
        blocks.set(hash, true);
        continue;
      }
      blocks.set(hash, true);
      const holding = this.holders.get(hash);
      if (holding === undefined) this.holders.set(hash, endpointId);
      else if (typeof holding !== 'string') holding.add(endpointId);
      else if (holding !== endpointId) this.holders.set(hash, new Set([holding, endpointId]));
    }
    while (blocks.size > entry.capacity) {
      const oldest = blocks.keys().next().value as bigint;
      blocks.delete(oldest);
      this.release(oldest, endpointId);
    }
  }

  removeEndpoint(endpointId: string): void {
    const entry = this.endpoints.get(endpointId);
    if (!entry) return;
    for (const hash of entry.blocks.keys()) this.release(hash, endpointId);
    this.endpoints.delete(endpointId);
  }

  endpointIds(): string[] {
    return [...this.endpoints.keys()];
  }

  blockCount(endpointId: string): number {
    return this.endpoints.get(endpointId)?.blocks.size ?? 0;
  }

  private release(hash: bigint, endpointId: string): void {
    const holding = this.holders.get(hash);
    if (holding === undefined) return;
    if (typeof holding === 'string') {
      if (holding === endpointId) this.holders.delete(hash);
      return;
    }
    holding.delete(endpointId);
    if (holding.size === 1) this.holders.set(hash, holding.values().next().value as string);
    else if (holding.size === 0) this.holders.delete(hash);
  }
}

function holds(holding: Holders, endpointId: string): boolean {
  return typeof holding === 'string' ? holding === endpointId : holding.has(endpointId);
}
