/**
 * One undici Pool (keep-alive connections) per upstream endpoint, created on first use and closed
 * when the endpoint goes away: either the owner says so (`retainOnly`, from fleet changes) or the
 * pool has not been used for `poolIdleCloseMs`.
 */
import { Pool } from 'undici';
import type { UpstreamConfig } from '../edge-config.ts';
import type { UpstreamEndpoint } from '../routing-service.ts';

interface PoolEntry {
  readonly pool: Pool;
  lastUsedAt: number;
}

export class UpstreamPools {
  private readonly pools = new Map<string, PoolEntry>();
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(private readonly config: UpstreamConfig) {
    const every = Math.min(config.poolIdleCloseMs, 60_000);
    this.sweepTimer = setInterval(() => this.closeIdle(Date.now()), every);
    this.sweepTimer.unref();
  }

  /** Number of open pools. */
  get size(): number {
    return this.pools.size;
  }

  /** The pool for `endpoint`, created on first use. */
  get(endpoint: UpstreamEndpoint): Pool {
    let entry = this.pools.get(endpoint.id);
    if (entry === undefined || entry.pool.closed) {
      entry = { pool: this.createPool(endpoint), lastUsedAt: 0 };
      this.pools.set(endpoint.id, entry);
    }
    entry.lastUsedAt = Date.now();
    return entry.pool;
  }

  /** Close the pools of endpoints not in `ids`; their in-flight requests finish first. */
  async retainOnly(ids: Iterable<string>): Promise<void> {
    const keep = new Set(ids);
    const closing: Promise<void>[] = [];
    for (const [id, entry] of this.pools) {
      if (keep.has(id)) continue;
      this.pools.delete(id);
      closing.push(entry.pool.close());
    }
    await Promise.all(closing);
  }

  /** Close pools unused for `poolIdleCloseMs` that have nothing in flight. */
  closeIdle(now: number): void {
    for (const [id, entry] of this.pools) {
      if (now - entry.lastUsedAt < this.config.poolIdleCloseMs) continue;
      if (entry.pool.stats.size > 0) continue;
      this.pools.delete(id);
      void entry.pool.close();
    }
  }

  /** Close every pool: `graceful` waits for in-flight requests, otherwise they are destroyed. */
  async close(graceful = true): Promise<void> {
    clearInterval(this.sweepTimer);
    const entries = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(entries.map((e) => (graceful ? e.pool.close() : e.pool.destroy())));
  }

  private createPool(endpoint: UpstreamEndpoint): Pool {
    const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
    return new Pool(`http://${host}:${endpoint.port}`, {
      connections: this.config.connections,
      keepAliveTimeout: this.config.keepAliveTimeoutMs,
      connectTimeout: this.config.connectTimeoutMs,
      // First-byte and idle timeouts are enforced per attempt by the proxy, which knows when it
      // has paused the body for a slow client; undici's own would not distinguish.
      headersTimeout: 0,
      bodyTimeout: 0,
      pipelining: 1,
    });
  }
}
