/**
 * Knows every open client exchange, so shutdown can wait for them and then close the stragglers,
 * and tells new responses to close their connection once draining has begun.
 */
import type { HttpResponse } from 'uWebSockets.js';
import { ClientExchange, type HeaderPairs } from './client-exchange.ts';

export class ExchangeTracker {
  private readonly open = new Set<ClientExchange>();
  private isDraining = false;
  private idleWaiters: (() => void)[] = [];
  private readonly policy = { closeConnections: () => this.isDraining };

  get draining(): boolean {
    return this.isDraining;
  }

  get size(): number {
    return this.open.size;
  }

  /** Wrap a uWS response; it is tracked until it ends or its client goes away. */
  track(res: HttpResponse, baseHeaders: HeaderPairs): ClientExchange {
    const exchange = new ClientExchange(res, baseHeaders, this.policy);
    this.open.add(exchange);
    void exchange.settled.then(() => {
      this.open.delete(exchange);
      if (this.open.size === 0) this.wakeIdleWaiters();
    });
    return exchange;
  }

  /** From now on responses ask clients to close their connections. */
  startDraining(): void {
    this.isDraining = true;
  }

  /** Resolves true when no exchange is open, false if `timeoutMs` passed first. */
  waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.open.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== wake);
        resolve(false);
      }, timeoutMs);
      const wake = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(wake);
    });
  }

  /** Drop the connection of every exchange still open (their upstream requests are cancelled). */
  closeAll(): void {
    for (const exchange of [...this.open]) exchange.terminate();
  }

  private wakeIdleWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}
