/**
 * A replica's local copy of the approximate-prefix routing history: the same semantics as the
 * scheduler's `InMemoryPrefixIndexStore` (per-endpoint LRU, prompts recorded last block first,
 * consecutive matching), plus enumeration of an endpoint's blocks in recency order, which the
 * shared store needs to republish its state after Redis lost it.
 */
import type { PrefixIndexStore } from '../scheduler/producers/prefix-index-store.ts';

interface EndpointBlocks {
  capacity: number;
  /** Insertion order = recency order, oldest first. */
  readonly blocks: Map<bigint, true>;
}

export class PrefixHistoryMirror implements PrefixIndexStore {
  readonly #holders = new Map<bigint, Set<string>>();
  readonly #endpoints = new Map<string, EndpointBlocks>();

  longestPrefix(hashes: readonly bigint[]): Map<string, number> {
    const result = new Map<string, number>();
    let alive: Set<string> | null = null;
    for (let i = 0; i < hashes.length; i++) {
      const holding = this.#holders.get(hashes[i]!);
      if (!holding) break;
      if (alive === null) {
        alive = new Set(holding);
      } else {
        for (const id of alive) if (!holding.has(id)) alive.delete(id);
      }
      if (alive.size === 0) break;
      for (const id of alive) result.set(id, i + 1);
    }
    return result;
  }

  add(endpointId: string, hashes: readonly bigint[], capacity: number): void {
    if (capacity <= 0) return;
    let entry = this.#endpoints.get(endpointId);
    if (!entry) {
      entry = { capacity, blocks: new Map() };
      this.#endpoints.set(endpointId, entry);
    }
    entry.capacity = capacity;
    const { blocks } = entry;
    for (let i = hashes.length - 1; i >= 0; i--) {
      const hash = hashes[i]!;
      if (blocks.delete(hash)) {
        blocks.set(hash, true);
        continue;
      }
      blocks.set(hash, true);
      let holding = this.#holders.get(hash);
      if (!holding) {
        holding = new Set();
        this.#holders.set(hash, holding);
      }
      holding.add(endpointId);
    }
    while (blocks.size > entry.capacity) {
      const oldest = blocks.keys().next().value as bigint;
      blocks.delete(oldest);
      this.#release(oldest, endpointId);
    }
  }

  removeEndpoint(endpointId: string): void {
    const entry = this.#endpoints.get(endpointId);
    if (!entry) return;
    for (const hash of entry.blocks.keys()) this.#release(hash, endpointId);
    this.#endpoints.delete(endpointId);
  }

  endpointIds(): string[] {
    return [...this.#endpoints.keys()];
  }

  blockCount(endpointId: string): number {
    return this.#endpoints.get(endpointId)?.blocks.size ?? 0;
  }

  /** The endpoint's LRU capacity, or 0 when unknown. */
  capacityOf(endpointId: string): number {
    return this.#endpoints.get(endpointId)?.capacity ?? 0;
  }

  /** The endpoint's blocks, most recently recorded first. */
  recentFirst(endpointId: string): bigint[] {
    const entry = this.#endpoints.get(endpointId);
    return entry ? [...entry.blocks.keys()].reverse() : [];
  }

  #release(hash: bigint, endpointId: string): void {
    const holding = this.#holders.get(hash);
    if (!holding) return;
    holding.delete(endpointId);
    if (holding.size === 0) this.#holders.delete(hash);
  }
}
