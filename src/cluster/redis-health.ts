/**
 * Whether Redis is usable right now, as seen from the command connection. Degraded when the
 * connection is not `ready`, when a PING probe fails (a Redis that accepts connections but does not
 * answer keeps the socket open), or when a caller reports a connection-level failure. Healthy again
 * only after a PING succeeds on a ready connection.
 *
 * Emits `degraded` (reason) and `recovered`; components switch to local-only operation on the
 * first and resynchronise on the second.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { isConnectionError, type RedisClient } from './redis-connection.ts';

/** How late a timeout may fire before it is blamed on this process's event loop rather than Redis. */
const STALL_MS = 100;
/** Each distinct error Redis answers with is logged at most this often. */
const REJECTED_LOG_INTERVAL_MS = 60_000;

export interface RedisHealthEvents {
  degraded: [reason: string];
  recovered: [];
}

export class RedisHealth extends EventEmitter<RedisHealthEvents> {
  readonly #client: RedisClient;
  readonly #logger: Logger;
  readonly #timer: NodeJS.Timeout;
  readonly #commandTimeoutMs: number;
  #healthy = false;
  #probing = false;
  /** Consecutive probes that timed out on a connected socket. */
  #timeouts = 0;
  #closed = false;
  #degradedSince: number = Date.now();
  #degradedSinceMono: number = performance.now();
  /** Transitions to degraded (a counter for metrics). */
  degradedTransitions = 0;
  /** Milliseconds spent degraded, closed intervals only (see {@link degradedMs}). */
  #degradedTotalMs = 0;
  readonly #rejectedLoggedAt = new Map<string, number>();

  constructor(client: RedisClient, probeIntervalMs: number, commandTimeoutMs: number, logger: Logger) {
    super();
    this.#client = client;
    this.#commandTimeoutMs = commandTimeoutMs;
    this.#logger = logger;
    client.on('ready', () => void this.probe());
    client.on('close', () => this.#setDegraded('connection closed'));
    client.on('end', () => this.#setDegraded('connection ended'));
    client.on('error', (err: Error) => this.#logger.debug({ err: err.message }, 'redis connection error'));
    this.#timer = setInterval(() => void this.probe(), probeIntervalMs);
    this.#timer.unref();
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  /** Since when (`performance.now()`) Redis has been unavailable; meaningful while degraded. */
  get degradedSince(): number {
    return this.#degradedSinceMono;
  }

  /** How long Redis has been unavailable (0 while healthy). */
  get degradedForMs(): number {
    return this.#healthy ? 0 : performance.now() - this.#degradedSinceMono;
  }

  /** Total time degraded so far, including the current spell. */
  get degradedMs(): number {
    return this.#degradedTotalMs + (this.#healthy ? 0 : Date.now() - this.#degradedSince);
  }

  /**
   * A command failed. A closed or refused connection degrades at once. A timeout only triggers a
   * probe: it may just mean this process's event loop was busy past the deadline while the reply
   * sat in the socket, and a full resync after every busy spell would cost more than it saves.
   */
  reportFailure(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    if (!isConnectionError(err)) {
      this.#logRejected(message);
      return;
    }
    if (message.includes('Command timed out')) void this.probe();
    else this.#setDegraded(message);
  }

  /**
   * A command Redis answered with an error (a script error, a wrong type, OOM): nothing about the
   * connection, but a bug or a misconfigured server, so it is logged, once a minute per message
   * (the `redis_errors` counter has them all).
   */
  #logRejected(message: string): void {
    const now = performance.now();
    const last = this.#rejectedLoggedAt.get(message);
    if (last !== undefined && now - last < REJECTED_LOG_INTERVAL_MS) return;
    if (this.#rejectedLoggedAt.size >= 100) this.#rejectedLoggedAt.clear();
    this.#rejectedLoggedAt.set(message, now);
    this.#logger.warn({ err: message }, 'redis rejected a command');
  }

  /** Checks Redis now; resolves with the resulting health. */
  async probe(): Promise<boolean> {
    if (this.#closed || this.#probing) return this.#healthy;
    this.#probing = true;
    const sentAt = performance.now();
    try {
      if (this.#client.status !== 'ready') {
        this.#setDegraded(`connection ${this.#client.status}`);
      } else {
        await this.#client.ping();
        this.#timeouts = 0;
        this.#setHealthy();
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (!message.includes('Command timed out')) {
        this.#setDegraded(message);
      } else if (performance.now() - sentAt < this.#commandTimeoutMs + STALL_MS) {
        // A timeout that fired on time. One could still be this process busy when the reply came
        // in; two in a row decide, so a stalled Redis is detected within two probe periods.
        if (++this.#timeouts >= 2) this.#setDegraded(message);
      }
      // A timeout that fired late says this process's event loop was blocked, not Redis: ignored.
    } finally {
      this.#probing = false;
    }
    return this.#healthy;
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
  }

  #setHealthy(): void {
    if (this.#healthy || this.#closed) return;
    this.#healthy = true;
    this.#degradedTotalMs += Date.now() - this.#degradedSince;
    this.#logger.info('redis reachable: cluster state in sync mode');
    this.emit('recovered');
  }

  #setDegraded(reason: string): void {
    if (!this.#healthy || this.#closed) return;
    this.#healthy = false;
    this.#degradedSince = Date.now();
    this.#degradedSinceMono = performance.now();
    this.degradedTransitions++;
    this.#logger.warn({ reason }, 'redis unavailable: routing on local state');
    this.emit('degraded', reason);
  }
}
