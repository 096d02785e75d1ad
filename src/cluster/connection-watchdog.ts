/**
 * Restarts connections that stopped trying. ioredis normally reconnects forever with our retry
 * strategy, but a Cluster client can end up in `close` without a reconnect scheduled (its node pool
 * drained outside a connect attempt), and would then stay there for good. A client seen in `close`
 * or `end` for longer than `stuckMs` is told to connect again.
 */
import type { Logger } from 'pino';
import type { RedisClient } from './redis-connection.ts';

export class ConnectionWatchdog {
  readonly #clients: readonly RedisClient[];
  readonly #stuckMs: number;
  readonly #logger: Logger;
  readonly #since = new Map<RedisClient, number>();
  readonly #timer: NodeJS.Timeout;
  /** Connections restarted (for a counter metric). */
  restarts = 0;

  constructor(clients: readonly RedisClient[], stuckMs: number, logger: Logger) {
    this.#clients = clients;
    this.#stuckMs = stuckMs;
    this.#logger = logger;
    this.#timer = setInterval(() => this.check(), Math.max(100, Math.floor(stuckMs / 2)));
    this.#timer.unref();
  }

  check(now: number = performance.now()): void {
    for (const client of this.#clients) {
      if (client.status !== 'close' && client.status !== 'end') {
        this.#since.delete(client);
        continue;
      }
      const since = this.#since.get(client);
      if (since === undefined) {
        this.#since.set(client, now);
        continue;
      }
      if (now - since < this.#stuckMs) continue;
      this.#since.delete(client);
      this.restarts++;
      this.#logger.debug(
        { status: client.status },
        'restarting a redis connection that stopped reconnecting',
      );
      client.connect().catch(() => undefined);
    }
  }

  /** Stops watching (call before closing the clients on purpose). */
  stop(): void {
    clearInterval(this.#timer);
  }
}
