/**
 * The Redis-backed {@link BlockIndex}: reads come from a local mirror (an in-memory index, so a
 * routing decision never waits on Redis), writes go to the mirror and, for pods this replica owns,
 * to Redis, from where every other replica's mirror picks them up.
 *
 * Who applies a pod's mutations ({@link ClusterBlockIndex.roleOf}):
 * - `owner`: this replica holds the pod's ingestion lease (or held it when Redis became
 *   unavailable): mirror + ledger + change stream (queued while Redis is away);
 * - `local`: Redis has been unavailable for `localIngestAfterMs` and another replica owned the pod:
 *   mirror only, so routing keeps learning from KV events; the pod is reloaded when Redis is back;
 * - `follower`: another replica owns the pod: the mutation is dropped here (it arrives through the
 *   change stream instead), except `removePod`, which always applies locally.
 *
 * Speculative entries are recorded by any replica for any pod: mirror at once, and an unversioned
 * stream entry so the other replicas see the routing decision too.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import {
  DEFAULT_SPECULATIVE_TTL_MS,
  type AddOptions,
  type BlockIndex,
  type BlockIndexStats,
  type BlockKeyList,
  type PrefixMatch,
} from '../index-store/block-index.ts';
import { tierCode } from '../index-store/device-tiers.ts';
import type { MemoryBlockIndex } from '../index-store/memory-index.ts';
import { isSpeculativeWrite } from '../index-store/speculative-write.ts';
import type { ChangeFeed } from './change-feed.ts';
import type { ClusterCounters } from './cluster-counters.ts';
import type { ClusterKeys } from './cluster-keys.ts';
import { encodeChanges, type IndexChange } from './index-change.ts';
import type { ClaimResult, PodOwnership } from './pod-ownership.ts';
import type { RedisClient } from './redis-connection.ts';
import type { RedisHealth } from './redis-health.ts';

export type IngestionRole = 'owner' | 'local' | 'follower';

export interface ClusterBlockIndexOptions {
  readonly mirror: MemoryBlockIndex;
  readonly ownership: PodOwnership;
  readonly feed: ChangeFeed;
  readonly health: RedisHealth;
  readonly client: RedisClient;
  readonly keys: ClusterKeys;
  readonly replicaId: string;
  readonly streamMaxLen: number;
  /** Degraded for this long, pods nobody here owns are ingested locally (see `config.ts`). */
  readonly localIngestAfterMs: number;
  readonly counters: ClusterCounters;
  readonly logger: Logger;
  readonly now?: () => number;
}

const NO_KEYS = new BigUint64Array(0);

export class ClusterBlockIndex implements BlockIndex {
  readonly blockSize: number;
  /** The local mirror every lookup reads (share its `buffers` with reader threads). */
  readonly mirror: MemoryBlockIndex;
  readonly #o: ClusterBlockIndexOptions;
  readonly #ports = new Set<MessagePort>();
  readonly #now: () => number;

  constructor(options: ClusterBlockIndexOptions) {
    this.#o = options;
    this.mirror = options.mirror;
    this.blockSize = options.mirror.blockSize;
    this.#now = options.now ?? (() => performance.timeOrigin + performance.now());
  }

  /** How this replica treats mutations of `podId` right now. */
  roleOf(podId: string): IngestionRole {
    const { health, ownership } = this.#o;
    if (health.healthy) return ownership.owns(podId) ? 'owner' : 'follower';
    // Redis is away. An owner keeps recording (its writes queue until Redis is back); the others
    // keep buffering for a while, then ingest locally so routing keeps learning.
    if (ownership.hasLedger(podId)) return 'owner';
    return health.degradedForMs >= this.#o.localIngestAfterMs ? 'local' : 'follower';
  }

  /**
   * Tries to become the pod's ingestion owner (the KV-event ingestor calls this for pods nobody
   * seems to own). Throws when Redis fails.
   */
  claimPod(podId: string): Promise<ClaimResult> {
    return this.#o.ownership.claim(podId);
  }

  /** Notes the fingerprint of the batch about to be applied to an owned pod. */
  noteBatch(podId: string, fingerprint: string): void {
    this.#o.ownership.noteFingerprint(podId, fingerprint);
  }

  longestPrefix(requestKeys: BlockKeyList, podIds?: Iterable<string>): Map<string, PrefixMatch> {
    return this.mirror.longestPrefix(requestKeys, podIds);
  }

  recordSpeculative(
    podId: string,
    requestKeys: BlockKeyList,
    ttlMs: number = DEFAULT_SPECULATIVE_TTL_MS,
  ): void {
    if (requestKeys.length === 0) return;
    this.mirror.recordSpeculative(podId, requestKeys, ttlMs);
    const { health, client, keys, counters } = this.#o;
    if (!health.healthy) {
      counters.writesSkippedDegraded++;
      return;
    }
    const payload = encodeChanges([
      { op: 'speculative', keys: toKeyArray(requestKeys), ttlMs, atMs: this.#now() },
    ]);
    client
      .xadd(
        keys.log(keys.shardOf(podId)),
        'MAXLEN',
        '~',
        this.#o.streamMaxLen,
        '*',
        'p',
        podId,
        'e',
        '',
        'v',
        0,
        'r',
        this.#o.replicaId,
        'd',
        payload,
      )
      .then(
        () => counters.speculativePublished++,
        (err: unknown) => this.#failed(err),
      );
  }

  add(
    podId: string,
    tier: string,
    requestKeys: BlockKeyList,
    engineKeys: readonly bigint[] | null,
    opts: AddOptions = {},
  ): void {
    if (opts.speculative) {
      this.recordSpeculative(podId, requestKeys, opts.ttlMs);
      return;
    }
    if (requestKeys.length === 0) return;
    const code = tierCode(tier);
    this.#mutate(
      podId,
      () => ({
        op: 'add',
        tier: code,
        keys: toKeyArray(requestKeys),
        engineKeys: engineKeys && engineKeys.length > 0 ? BigUint64Array.from(engineKeys) : NO_KEYS,
      }),
      (ledger) => ledger.add(code, requestKeys, engineKeys),
      () => this.mirror.add(podId, tier, requestKeys, engineKeys),
    );
  }

  removeByEngineKey(podId: string, tier: string, engineKey: bigint): void {
    const code = tierCode(tier);
    this.#mutate(
      podId,
      () => ({ op: 'rmEngine', tier: code, engineKey }),
      (ledger) => ledger.removeByEngineKey(code, engineKey),
      () => this.mirror.removeByEngineKey(podId, tier, engineKey),
    );
  }

  removeByRequestKeys(podId: string, tier: string, requestKeys: BlockKeyList): void {
    if (requestKeys.length === 0) return;
    const code = tierCode(tier);
    this.#mutate(
      podId,
      () => ({ op: 'rmKeys', tier: code, keys: toKeyArray(requestKeys) }),
      (ledger) => ledger.removeByRequestKeys(code, requestKeys),
      () => this.mirror.removeByRequestKeys(podId, tier, requestKeys),
    );
  }

  clearPod(podId: string): void {
    this.#mutate(
      podId,
      () => ({ op: 'clear' }),
      (ledger) => ledger.clear(),
      () => this.mirror.clearPod(podId),
    );
  }

  /** Removes the pod here, and (when this replica owns it) from Redis and every mirror. */
  removePod(podId: string): void {
    this.mirror.removePod(podId);
    if (this.roleOf(podId) === 'owner') this.#o.ownership.removePod(podId);
    this.#o.feed.untrack(podId);
  }

  requestKeyFor(podId: string, engineKey: bigint): bigint | undefined {
    return this.mirror.requestKeyFor(podId, engineKey);
  }

  requestKeysFor(podId: string, engineKey: bigint): readonly bigint[] {
    return this.mirror.requestKeysFor(podId, engineKey);
  }

  stats(): BlockIndexStats {
    return this.mirror.stats();
  }

  /**
   * A port through which a reader thread's `recordSpeculative` reaches this index (and so the other
   * replicas); the same message protocol as {@link MemoryBlockIndex.openWritePort}.
   */
  openWritePort(): MessagePort {
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (message: unknown) => {
      if (isSpeculativeWrite(message)) this.recordSpeculative(message.podId, message.keys, message.ttlMs);
    });
    port1.unref();
    this.#ports.add(port1);
    return port2;
  }

  /** Closes the write ports. The mirror stays readable. */
  close(): void {
    for (const port of this.#ports) port.close();
    this.#ports.clear();
  }

  #mutate(
    podId: string,
    change: () => IndexChange,
    ledger: Parameters<PodOwnership['record']>[2],
    mirror: () => void,
  ): void {
    switch (this.roleOf(podId)) {
      case 'follower':
        this.#o.counters.mutationsSkippedNotOwner++;
        return;
      case 'owner':
        mirror();
        this.#o.ownership.record(podId, change(), ledger);
        return;
      case 'local':
        mirror();
        this.#o.feed.markDiverged(podId);
        return;
    }
  }

  #failed(err: unknown): void {
    this.#o.counters.redisErrors++;
    this.#o.health.reportFailure(err);
  }
}

/** A private copy: changes are encoded at the end of the microtask, after the caller moved on. */
function toKeyArray(keys: BlockKeyList): BigUint64Array {
  return keys instanceof BigUint64Array ? keys.slice() : BigUint64Array.from(keys);
}
