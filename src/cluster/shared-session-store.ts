/**
 * A {@link SessionAffinityStore} shared by router replicas: a session pinned through one replica
 * is found through any other.
 *
 * Reads are local (scheduling is synchronous). A `bind` updates the local map at once and writes
 * through to Redis with one fire-and-forget script (hash field + expiry index + publish), so the
 * other replicas learn of it over pub/sub within a round trip; a replica that starts, or whose
 * subscription dropped, reloads the hash. Refreshes of an unchanged pin are written at most every
 * tenth of the TTL, so a binding is never more than 10% older on a peer than on its writer.
 *
 * A binding that did not reach Redis (skipped while degraded, or failed) is written when Redis is
 * back ({@link SharedSessionAffinityStore.resync}), so a session pinned during an outage or a
 * Sentinel failover is not unknown to the other replicas until its next rebind.
 *
 * Bounds: locally, bindings expire by TTL like the in-memory store; in Redis, every replica's
 * periodic sweep removes up to `sweepBatch` expired pins per run through the expiry index, and both
 * keys expire after twice the TTL without writes.
 */
import type { SessionAffinityStore } from '../scheduler/scorers/session-affinity-store.ts';
import { LuaScript } from './lua-script.ts';
import { isConnectionError } from './redis-connection.ts';
import type { ClusterStoreDeps } from './store-deps.ts';

/**
 * KEYS: pins, expiry index. ARGV: session, endpoint, lastUsedMs, key TTL, channel, message.
 * Keeps the newer binding when two replicas write the same session.
 */
const BIND = new LuaScript(`
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local at = tonumber(string.match(current, '\\t(%d+%.?%d*)$'))
  if at and at > tonumber(ARGV[3]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '\\t' .. ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
`);

/** KEYS: pins, expiry index. ARGV: expired-before, batch. */
const SWEEP = new LuaScript(`
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #expired == 0 then return 0 end
redis.call('HDEL', KEYS[1], unpack(expired))
redis.call('ZREM', KEYS[2], unpack(expired))
return #expired
`);

interface Binding {
  endpointId: string;
  lastUsedMs: number;
  /** When this replica last wrote the binding to Redis (-Infinity: never). */
  writtenMs: number;
}

export interface SharedSessionStoreOptions extends ClusterStoreDeps {
  readonly plugin: string;
  readonly ttlMs: number;
  readonly sweepIntervalMs: number;
  readonly sweepBatch: number;
  /** Clock of the Redis-side sweep; the scheduler's own clock (`routerClock`) by default. */
  readonly now?: () => number;
}

export class SharedSessionAffinityStore implements SessionAffinityStore {
  readonly #o: SharedSessionStoreOptions;
  readonly #bindings = new Map<string, Binding>();
  /** Sessions whose latest binding did not reach Redis. */
  #unsent = new Set<string>();
  readonly #timer: NodeJS.Timeout;
  readonly #now: () => number;
  #lastLocalSweepMs = Number.NEGATIVE_INFINITY;
  #closed = false;

  constructor(options: SharedSessionStoreOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.timeOrigin + performance.now());
    options.hub.subscribe(options.keys.pinChannel(options.plugin), {
      onMessage: (message) => this.#onMessage(message),
      onResubscribed: () => void this.reload(),
    });
    this.#timer = setInterval(() => void this.#sweepRedis(), Math.max(1000, options.sweepIntervalMs));
    this.#timer.unref();
  }

  get(sessionId: string, nowMs: number): string | undefined {
    const binding = this.#bindings.get(sessionId);
    if (!binding || nowMs - binding.lastUsedMs > this.#o.ttlMs) return undefined;
    return binding.endpointId;
  }

  bind(sessionId: string, endpointId: string, nowMs: number): void {
    const previous = this.#bindings.get(sessionId);
    const binding: Binding = { endpointId, lastUsedMs: nowMs, writtenMs: previous?.writtenMs ?? -Infinity };
    this.#bindings.set(sessionId, binding);
    this.#sweepLocal(nowMs);
    const unchanged = previous?.endpointId === endpointId;
    if (unchanged && nowMs - binding.writtenMs < this.#o.ttlMs / 10) return;
    this.#write(sessionId, binding);
  }

  retainEndpoints(activeIds: ReadonlySet<string>): void {
    for (const [id, binding] of this.#bindings) if (!activeIds.has(binding.endpointId)) this.#forget(id);
  }

  /** Live and not-yet-swept bindings held locally. */
  get size(): number {
    return this.#bindings.size;
  }

  /** Loads every pin from Redis, keeping the newer of a local and a stored binding. */
  async reload(): Promise<void> {
    if (this.#closed || !this.#o.health.healthy) return;
    try {
      const all = await this.#o.client.hgetall(this.#o.keys.pins(this.#o.plugin));
      for (const [sessionId, value] of Object.entries(all)) this.#merge(sessionId, value);
    } catch (err) {
      this.#failed(err);
    }
  }

  /**
   * After (re)connecting: writes what Redis is missing from this replica — every live binding when
   * Redis lost its data, else the bindings that never reached it — then loads the others' pins.
   */
  async resync(redisLostData: boolean): Promise<void> {
    const unsent = this.#unsent;
    this.#unsent = new Set();
    if (redisLostData) this.republish();
    else {
      const now = this.#now();
      for (const sessionId of unsent) {
        const binding = this.#bindings.get(sessionId);
        if (binding && now - binding.lastUsedMs <= this.#o.ttlMs) this.#write(sessionId, binding);
      }
    }
    await this.reload();
  }

  /** Writes every live local binding to Redis, e.g. after Redis lost its data. */
  republish(): void {
    const now = this.#now();
    for (const [sessionId, binding] of this.#bindings) {
      if (now - binding.lastUsedMs <= this.#o.ttlMs) this.#write(sessionId, binding);
    }
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
  }

  #write(sessionId: string, binding: Binding): void {
    const { health, client, keys, plugin, replicaId, counters, ttlMs } = this.#o;
    if (this.#closed) return;
    if (!health.healthy) {
      counters.writesSkippedDegraded++;
      this.#unsent.add(sessionId);
      return;
    }
    this.#unsent.delete(sessionId);
    binding.writtenMs = binding.lastUsedMs;
    const value = `${binding.endpointId}\t${binding.lastUsedMs}`;
    BIND.run(
      client,
      [keys.pins(plugin), keys.pinExpiry(plugin)],
      [
        sessionId,
        binding.endpointId,
        binding.lastUsedMs,
        ttlMs * 2,
        keys.pinChannel(plugin),
        `${replicaId}\t${sessionId}\t${value}`,
      ],
    ).then(
      () => counters.pinWrites++,
      (err: unknown) => {
        if (isConnectionError(err)) this.#unsent.add(sessionId);
        this.#failed(err);
      },
    );
  }

  #onMessage(message: Buffer): void {
    const text = message.toString('utf8');
    const first = text.indexOf('\t');
    const second = text.indexOf('\t', first + 1);
    if (first < 0 || second < 0) return;
    if (text.slice(0, first) === this.#o.replicaId) return;
    this.#o.counters.pinsReceived++;
    this.#merge(text.slice(first + 1, second), text.slice(second + 1));
  }

  /** Applies a stored `<endpoint>\t<lastUsedMs>` unless the local binding is newer. */
  #merge(sessionId: string, value: string): void {
    const tab = value.lastIndexOf('\t');
    if (tab <= 0) return;
    const endpointId = value.slice(0, tab);
    const lastUsedMs = Number(value.slice(tab + 1));
    if (!Number.isFinite(lastUsedMs)) return;
    const local = this.#bindings.get(sessionId);
    if (local && local.lastUsedMs >= lastUsedMs) return;
    // Already in Redis: no need for this replica to write it again soon.
    this.#bindings.set(sessionId, { endpointId, lastUsedMs, writtenMs: lastUsedMs });
  }

  #sweepLocal(nowMs: number): void {
    if (nowMs - this.#lastLocalSweepMs < this.#o.sweepIntervalMs) return;
    this.#lastLocalSweepMs = nowMs;
    for (const [id, binding] of this.#bindings) {
      if (nowMs - binding.lastUsedMs > this.#o.ttlMs) this.#forget(id);
    }
  }

  #forget(sessionId: string): void {
    this.#bindings.delete(sessionId);
    this.#unsent.delete(sessionId);
  }

  async #sweepRedis(): Promise<void> {
    const { health, client, keys, plugin, sweepBatch, ttlMs } = this.#o;
    this.#sweepLocal(this.#now());
    if (this.#closed || !health.healthy) return;
    try {
      await SWEEP.run(client, [keys.pins(plugin), keys.pinExpiry(plugin)], [this.#now() - ttlMs, sweepBatch]);
    } catch (err) {
      this.#failed(err);
    }
  }

  #failed(err: unknown): void {
    this.#o.counters.redisErrors++;
    this.#o.health.reportFailure(err);
  }
}
