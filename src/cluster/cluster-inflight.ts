/**
 * In-flight load per endpoint, shared by every router replica, so that a burst spread over
 * replicas does not pile onto the one endpoint each of them sees idle.
 *
 * - Each replica counts its own dispatches exactly ({@link ClusterInflight.acquire} /
 *   {@link ClusterInflight.release}) and, at each of them, sends one fire-and-forget script that
 *   increments its hash and publishes the delta: the other replicas learn within a network round
 *   trip, without anyone waiting.
 * - Every `publishIntervalMs` it rewrites its hash with its absolute counts and refreshes the
 *   hash's TTL (`ttlMs`); a crashed replica's counts thus disappear within the TTL.
 * - Every `pollIntervalMs` it reads the other replicas' hashes, which repairs anything pub/sub lost.
 *
 * Reads ({@link ClusterInflight.peers}, {@link ClusterInflight.withPeers}) are local: the routing
 * decision adds this replica's exact count to the others' last known counts. While Redis is
 * unreachable the others' counts age out after `ttlMs` and routing falls back to local counts.
 */
import type { Logger } from 'pino';
import type { EndpointInflight, FleetView } from '../fleet/types.ts';
import type { ClusterCounters } from './cluster-counters.ts';
import type { ClusterKeys } from './cluster-keys.ts';
import { LuaScript, type ScriptArg } from './lua-script.ts';
import { PeerInflightView } from './peer-inflight-view.ts';
import type { PubSubHub } from './pubsub-hub.ts';
import type { RedisClient } from './redis-connection.ts';
import type { RedisHealth } from './redis-health.ts';

/** KEYS: own hash. ARGV: endpoint, Δrequests, Δtokens, seq, ttl, channel, message. */
const DELTA = new LuaScript(`
redis.call('HINCRBY', KEYS[1], 'r:' .. ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[1], 't:' .. ARGV[1], ARGV[3])
redis.call('HSET', KEYS[1], 'seq', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PUBLISH', ARGV[6], ARGV[7])
return 1
`);

/**
 * KEYS: own hash, replica index. ARGV: seq, ttl, replica, now, prune-before, then
 * (endpoint, requests, tokens) triples.
 */
const STATE = new LuaScript(`
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'seq', ARGV[1])
for i = 6, #ARGV, 3 do
  redis.call('HSET', KEYS[1], 'r:' .. ARGV[i], ARGV[i + 1], 't:' .. ARGV[i], ARGV[i + 2])
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
redis.call('PEXPIRE', KEYS[2], 86400000)
return 1
`);

/** Replicas silent for this long leave the replica index (their hashes expired long before). */
const REPLICA_INDEX_RETENTION_MS = 60_000;

export interface ClusterInflightOptions {
  readonly client: RedisClient;
  readonly hub: PubSubHub;
  readonly health: RedisHealth;
  readonly keys: ClusterKeys;
  readonly replicaId: string;
  readonly publishIntervalMs: number;
  readonly pollIntervalMs: number;
  readonly ttlMs: number;
  readonly counters: ClusterCounters;
  readonly logger: Logger;
}

interface Counts {
  requests: number;
  tokens: number;
}

export class ClusterInflight {
  readonly #o: ClusterInflightOptions;
  readonly #local = new Map<string, Counts>();
  readonly #peers = new PeerInflightView();
  readonly #timers: NodeJS.Timeout[] = [];
  #seq = 0;
  #polling = false;
  #closed = false;

  constructor(options: ClusterInflightOptions) {
    this.#o = options;
    options.hub.subscribe(options.keys.inflightChannel(), {
      onMessage: (message) => this.#onDelta(message),
      onResubscribed: () => void this.poll(),
    });
    const publish = setInterval(() => void this.publishState(), options.publishIntervalMs);
    const poll = setInterval(() => void this.poll(), options.pollIntervalMs);
    publish.unref();
    poll.unref();
    this.#timers.push(publish, poll);
  }

  /** Counts a request dispatched by this replica to `endpointId`, and tells the other replicas. */
  acquire(endpointId: string, tokens: number): void {
    const t = Math.max(0, Math.round(tokens));
    const counts = this.#local.get(endpointId) ?? { requests: 0, tokens: 0 };
    counts.requests += 1;
    counts.tokens += t;
    this.#local.set(endpointId, counts);
    this.#sendDelta(endpointId, 1, t);
  }

  /** Uncounts a finished request; pass the same tokens as to {@link acquire}. */
  release(endpointId: string, tokens: number): void {
    const counts = this.#local.get(endpointId);
    if (!counts || counts.requests === 0) return;
    const t = Math.min(counts.tokens, Math.max(0, Math.round(tokens)));
    counts.requests -= 1;
    counts.tokens -= t;
    if (counts.requests === 0) this.#local.delete(endpointId);
    this.#sendDelta(endpointId, -1, -t);
  }

  /** This replica's own in-flight for an endpoint. */
  local(endpointId: string): EndpointInflight {
    const counts = this.#local.get(endpointId);
    return counts ? { requests: counts.requests, tokens: counts.tokens } : { requests: 0, tokens: 0 };
  }

  /** The other replicas' in-flight for an endpoint, as last heard. */
  peers(endpointId: string): EndpointInflight {
    return this.#peers.get(endpointId);
  }

  /** This replica's count plus the others'. */
  total(endpointId: string): EndpointInflight {
    const own = this.#local.get(endpointId);
    const others = this.#peers.get(endpointId);
    return { requests: (own?.requests ?? 0) + others.requests, tokens: (own?.tokens ?? 0) + others.tokens };
  }

  /**
   * `view` with the other replicas' in-flight added to each endpoint's (the view's own counts being
   * this replica's, e.g. from `SharedFleetState`). Returns `view` itself when no peer has load.
   */
  withPeers(view: FleetView): FleetView {
    const totals = this.#peers.totals();
    if (totals.size === 0) return view;
    let changed = false;
    const endpoints = view.endpoints.map((snapshot) => {
      const others = totals.get(snapshot.info.id);
      if (!others) return snapshot;
      changed = true;
      return {
        ...snapshot,
        inflight: {
          requests: snapshot.inflight.requests + others.requests,
          tokens: snapshot.inflight.tokens + others.tokens,
        },
      };
    });
    return changed ? { ...view, endpoints } : view;
  }

  /** Writes this replica's absolute counts and refreshes their TTL (runs on a timer). */
  async publishState(): Promise<void> {
    if (this.#closed || !this.#o.health.healthy) return;
    const { keys, replicaId, client } = this.#o;
    const now = Date.now();
    const args: ScriptArg[] = [this.#seq, this.#o.ttlMs, replicaId, now, now - REPLICA_INDEX_RETENTION_MS];
    for (const [id, counts] of this.#local) args.push(id, counts.requests, counts.tokens);
    try {
      await STATE.run(client, [keys.inflight(replicaId), keys.replicas()], args);
    } catch (err) {
      this.#failed(err);
    }
  }

  /** Reads the other replicas' counts (runs on a timer; also after pub/sub reconnects). */
  async poll(): Promise<void> {
    const now = performance.now();
    this.#peers.expire(now, this.#o.ttlMs + this.#o.pollIntervalMs);
    if (this.#closed || this.#polling || !this.#o.health.healthy) return;
    this.#polling = true;
    const { keys, replicaId, client } = this.#o;
    try {
      const ids = (await client.zrange(keys.replicas(), 0, -1)).filter((id) => id !== replicaId);
      const live = new Set<string>();
      if (ids.length > 0) {
        const pipeline = client.pipeline();
        for (const id of ids) pipeline.hgetall(keys.inflight(id));
        const replies = (await pipeline.exec()) ?? [];
        const at = performance.now();
        ids.forEach((id, i) => {
          const [err, hash] = replies[i] ?? [null, null];
          if (err || !hash) return;
          const parsed = parseState(hash as Record<string, string>);
          if (!parsed) return;
          live.add(id);
          this.#peers.applyState(id, parsed.seq, parsed.counts, at);
        });
      }
      this.#peers.retain(live);
      this.#o.counters.inflightPolls++;
    } catch (err) {
      this.#failed(err);
    } finally {
      this.#polling = false;
    }
  }

  /** Stops publishing and deletes this replica's counts (a clean shutdown). */
  async close(): Promise<void> {
    this.abandon();
    if (!this.#o.health.healthy) return;
    const { keys, replicaId, client } = this.#o;
    await Promise.allSettled([client.del(keys.inflight(replicaId)), client.zrem(keys.replicas(), replicaId)]);
  }

  /** Stops the timers and leaves the counts to expire (the process is going away abruptly). */
  abandon(): void {
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
  }

  #sendDelta(endpointId: string, requests: number, tokens: number): void {
    const seq = ++this.#seq;
    if (this.#closed) return;
    if (!this.#o.health.healthy) {
      this.#o.counters.writesSkippedDegraded++;
      return;
    }
    const { keys, replicaId, client } = this.#o;
    const message = `${replicaId} ${seq} ${requests} ${tokens} ${endpointId}`;
    DELTA.run(
      client,
      [keys.inflight(replicaId)],
      [endpointId, requests, tokens, seq, this.#o.ttlMs, keys.inflightChannel(), message],
    ).then(
      () => this.#o.counters.inflightDeltasPublished++,
      (err: unknown) => this.#failed(err),
    );
  }

  #onDelta(message: Buffer): void {
    const text = message.toString('utf8');
    const parts = text.split(' ');
    if (parts.length < 5) return;
    const [replica, seq, requests, tokens] = parts as [string, string, string, string];
    if (replica === this.#o.replicaId) return;
    const endpointId = parts.slice(4).join(' ');
    this.#o.counters.inflightDeltasReceived++;
    this.#peers.applyDelta(
      replica,
      { seq: Number(seq), endpointId, requests: Number(requests), tokens: Number(tokens) },
      performance.now(),
    );
  }

  #failed(err: unknown): void {
    this.#o.counters.redisErrors++;
    this.#o.health.reportFailure(err);
  }
}

function parseState(hash: Record<string, string>): { seq: number; counts: Map<string, Counts> } | null {
  const seq = Number(hash['seq']);
  if (!Number.isFinite(seq)) return null;
  const counts = new Map<string, Counts>();
  for (const [field, value] of Object.entries(hash)) {
    const kind = field.slice(0, 2);
    if (kind !== 'r:' && kind !== 't:') continue;
    const id = field.slice(2);
    const c = counts.get(id) ?? { requests: 0, tokens: 0 };
    if (kind === 'r:') c.requests = Number(value);
    else c.tokens = Number(value);
    counts.set(id, c);
  }
  return { seq, counts };
}
