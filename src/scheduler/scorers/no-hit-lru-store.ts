/**
 * State of `no-hit-lru-scorer`: the order in which endpoints last received a cold (no prefix hit)
 * request. Behind an interface so replicas can share it later.
 */
export interface NoHitLruStore {
  /** Endpoint ids that received cold requests, least recently first. */
  order(): readonly string[];
  /** Marks `endpointId` as the most recent receiver of a cold request. */
  touch(endpointId: string): void;
  removeEndpoint(endpointId: string): void;
}

/** In-memory {@link NoHitLruStore} bounded to `capacity` endpoints (llm-d `lruSize`, default 1024). */
export class InMemoryNoHitLruStore implements NoHitLruStore {
  private readonly recency = new Map<string, true>();

  constructor(private readonly capacity: number) {}

  order(): readonly string[] {
    return [...this.recency.keys()];
  }

  touch(endpointId: string): void {
    this.recency.delete(endpointId);
    this.recency.set(endpointId, true);
    while (this.recency.size > this.capacity) {
      const oldest = this.recency.keys().next().value as string;
      this.recency.delete(oldest);
    }
  }

  removeEndpoint(endpointId: string): void {
    this.recency.delete(endpointId);
  }
}
