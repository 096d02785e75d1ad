/**
 * Per-pod ingestion leases: `SET lease <replicaId> NX PX ttl`, renewed every third of the TTL by
 * a compare-and-expire script. The lease decides who applies a pod's KV events for the cluster; a
 * replica that dies stops renewing and another takes over once the lease expires.
 *
 * A lease alone cannot fence a writer that stalled past its TTL (a GC pause), so every snapshot
 * write also checks the pod's version (`pod-ownership.ts`). Locally a lease counts as held until
 * 80% of its TTL after the renewal was sent, so this replica stops acting as owner before Redis
 * could have handed the pod to someone else.
 */
import type { ClusterKeys } from './cluster-keys.ts';
import { encodeChanges } from './index-change.ts';
import { LuaScript } from './lua-script.ts';
import type { RedisClient } from './redis-connection.ts';

export type LeaseResult = 'acquired' | 'renewed' | 'held-by-other';

const ACQUIRE = new LuaScript(`
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 2
end
return 0
`);

/** KEYS: lease, then the pod's snapshot keys whose TTL the owner keeps alive. */
const RENEW = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
for i = 2, #KEYS do redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
return 1
`);

/** KEYS: lease, shard log. ARGV: replica, pod, maxlen, payload (a `released` change). */
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'p', ARGV[2], 'e', '', 'v', 0, 'r', ARGV[1], 'd', ARGV[4])
return 1
`);

const RELEASED_PAYLOAD = encodeChanges([{ op: 'released' }]);

export class PodLeases {
  readonly #client: RedisClient;
  readonly #keys: ClusterKeys;
  readonly #replicaId: string;
  readonly #ttlMs: number;
  readonly #podStateTtlMs: number;
  readonly #streamMaxLen: number;
  /** Pod → local deadline until which the lease is surely ours. */
  readonly #held = new Map<string, number>();

  constructor(
    client: RedisClient,
    keys: ClusterKeys,
    replicaId: string,
    ttlMs: number,
    podStateTtlMs: number,
    streamMaxLen: number,
  ) {
    this.#client = client;
    this.#streamMaxLen = streamMaxLen;
    this.#keys = keys;
    this.#replicaId = replicaId;
    this.#ttlMs = ttlMs;
    this.#podStateTtlMs = podStateTtlMs;
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** Whether this replica surely holds the pod's lease right now. */
  holds(podId: string): boolean {
    const until = this.#held.get(podId);
    return until !== undefined && until > performance.now();
  }

  /** Takes the lease if free (or extends it if already ours). Throws when Redis fails. */
  async acquire(podId: string): Promise<LeaseResult> {
    const sentAt = performance.now();
    const reply = Number(
      await ACQUIRE.run(this.#client, [this.#keys.lease(podId)], [this.#replicaId, this.#ttlMs]),
    );
    if (reply === 0) {
      this.#held.delete(podId);
      return 'held-by-other';
    }
    this.#held.set(podId, sentAt + this.#ttlMs * 0.8);
    return reply === 1 ? 'acquired' : 'renewed';
  }

  /**
   * Renews the leases of `podIds` in one pipeline and extends their snapshots' TTL. Returns the pods
   * whose lease turned out to be someone else's (or gone); pods whose renewal failed for lack of
   * Redis are not in it (their local deadline just lapses).
   */
  async renew(podIds: readonly string[]): Promise<string[]> {
    // One pipeline per shard: under Redis Cluster a pipeline must stay within one slot.
    const byShard = new Map<number, string[]>();
    for (const podId of podIds) {
      const shard = this.#keys.shardOf(podId);
      const list = byShard.get(shard);
      if (list) list.push(podId);
      else byShard.set(shard, [podId]);
    }
    const lost = await Promise.all([...byShard.values()].map((pods) => this.#renewShard(pods)));
    return lost.flat();
  }

  async #renewShard(podIds: readonly string[]): Promise<string[]> {
    const sentAt = performance.now();
    const keys = this.#keys;
    const pipeline = this.#client.pipeline();
    for (const podId of podIds) {
      RENEW.queue(
        pipeline,
        [keys.lease(podId), keys.podMeta(podId), keys.podBlocks(podId), keys.podEngine(podId)],
        [this.#replicaId, this.#ttlMs, this.#podStateTtlMs],
      );
    }
    const replies = (await pipeline.exec()) ?? [];
    const lost: string[] = [];
    podIds.forEach((podId, i) => {
      const [err, value] = replies[i] ?? [new Error('no reply'), null];
      if (err) return;
      if (Number(value) === 1) {
        this.#held.set(podId, sentAt + this.#ttlMs * 0.8);
      } else {
        this.#held.delete(podId);
        lost.push(podId);
      }
    });
    return lost;
  }

  /**
   * Gives the lease back and announces it on the shard's stream, so the replicas following the pod
   * claim it at their next batch instead of waiting for their retry interval.
   */
  async release(podId: string): Promise<void> {
    this.#held.delete(podId);
    const keys = this.#keys;
    await RELEASE.run(
      this.#client,
      [keys.lease(podId), keys.log(keys.shardOf(podId))],
      [this.#replicaId, podId, this.#streamMaxLen, RELEASED_PAYLOAD],
    );
  }

  /** Forgets the lease locally (it was lost). */
  forget(podId: string): void {
    this.#held.delete(podId);
  }
}
