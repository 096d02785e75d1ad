/**
 * Server-side session bindings for `session-affinity-scorer` in `session_id` mode
 * (llm-d-router.md §2.4: `evictionTtlSeconds` 300, `evictionSweepSeconds` 10). Reads never mutate,
 * so scoring stays pure; expiry is checked against the caller's clock.
 */
export interface SessionAffinityStore {
  /** Endpoint bound to `sessionId`, unless the binding expired by `nowMs`. */
  get(sessionId: string, nowMs: number): string | undefined;
  /** Binds (or refreshes) `sessionId` → `endpointId` at `nowMs`. */
  bind(sessionId: string, endpointId: string, nowMs: number): void;
  /** Drops bindings to endpoints not in `activeIds`. */
  retainEndpoints(activeIds: ReadonlySet<string>): void;
}

interface Binding {
  endpointId: string;
  lastUsedMs: number;
}

/** In-memory {@link SessionAffinityStore} with TTL eviction swept during writes. */
export class InMemorySessionAffinityStore implements SessionAffinityStore {
  private readonly bindings = new Map<string, Binding>();
  private lastSweepMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly ttlMs: number,
    private readonly sweepIntervalMs: number,
  ) {}

  get(sessionId: string, nowMs: number): string | undefined {
    const binding = this.bindings.get(sessionId);
    if (!binding || nowMs - binding.lastUsedMs > this.ttlMs) return undefined;
    return binding.endpointId;
  }

  bind(sessionId: string, endpointId: string, nowMs: number): void {
    this.bindings.set(sessionId, { endpointId, lastUsedMs: nowMs });
    if (nowMs - this.lastSweepMs >= this.sweepIntervalMs) {
      this.lastSweepMs = nowMs;
      for (const [id, binding] of this.bindings) {
        if (nowMs - binding.lastUsedMs > this.ttlMs) this.bindings.delete(id);
      }
    }
  }

  retainEndpoints(activeIds: ReadonlySet<string>): void {
    for (const [id, binding] of this.bindings) {
      if (!activeIds.has(binding.endpointId)) this.bindings.delete(id);
    }
  }

  /** Number of live and not-yet-swept bindings (for tests and metrics). */
  get size(): number {
    return this.bindings.size;
  }
}
