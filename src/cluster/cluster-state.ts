/**
 * Cluster-wide routing state in Redis, so that N kvedge router replicas route as one and keep
 * routing when Redis is unavailable. `docs/cluster-state.md` has the data model (every key, its
 * type, TTL and bound) and the failure behaviour in detail.
 *
 * What is shared, and how:
 * - **Block index** ({@link ClusterState.index}, {@link ClusterState.ingestor}): each pod's KV
 *   events are applied by one replica, the holder of the pod's lease, which appends its changes to
 *   a Redis stream and keeps a snapshot of the pod in Redis hashes. Every replica's lookups read a
 *   local in-memory mirror fed by that stream; a replica that starts or reconnects loads the
 *   snapshots, then tails the stream. No routing decision waits on Redis.
 * - **In-flight load** ({@link ClusterState.inflight}): each replica publishes its own counts
 *   (pushed at dispatch, rewritten every 100 ms with a short TTL) and reads the others'.
 * - **Session pins and approximate-prefix history** ({@link ClusterState.schedulerState}): write-
 *   through stores with local reads and pub/sub change feeds.
 *
 * Redis down: every component carries on locally and nothing reaches callers; `degraded` is set
 * and `degraded`/`recovered` events fire. When Redis returns: leases are re-acquired, owned pods
 * republished if Redis lost them, mirrors re-synced, in-flight and stores republished or reloaded.
 *
 * ```ts
 * const cluster = await createClusterState({ url: 'redis://redis:6379' }, logger);
 * const subscriber = new KvEventSubscriber({ index: cluster.index, ingestor: cluster.ingestor });
 * const scheduler = loadSchedulerConfig(yamlText, { state: cluster.schedulerState() });
 * cluster.inflight.acquire(endpointId, tokens);      // at dispatch; release() when done
 * const view = cluster.inflight.withPeers(fleet.snapshot());
 * ```
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { MemoryBlockIndex, type MemoryBlockIndexOptions } from '../index-store/memory-index.ts';
import { createInMemoryState, type SchedulerStateFactory } from '../scheduler/state.ts';
import type { PrefixIndexStore } from '../scheduler/producers/prefix-index-store.ts';
import type { SessionAffinityStore } from '../scheduler/scorers/session-affinity-store.ts';
import { ChangeFeed } from './change-feed.ts';
import { ClusterBlockIndex } from './cluster-block-index.ts';
import { newClusterCounters, type ClusterCounters } from './cluster-counters.ts';
import { ClusterInflight } from './cluster-inflight.ts';
import { ClusterKvEventIngestor } from './cluster-ingestor.ts';
import { ClusterKeys } from './cluster-keys.ts';
import { ConnectionWatchdog } from './connection-watchdog.ts';
import {
  defaultReplicaId,
  parseClusterStateConfig,
  type ClusterStateConfig,
  type ClusterStateConfigInput,
} from './config.ts';
import { PlacementClaims } from './placement-claims.ts';
import { PickerStateMirror } from './picker-state-mirror.ts';
import type { ClusterStoreDeps } from './store-deps.ts';
import { PodLeases } from './pod-leases.ts';
import { PodOwnership } from './pod-ownership.ts';
import { PubSubHub } from './pubsub-hub.ts';
import { createRedisClient, type RedisClient } from './redis-connection.ts';
import { RedisHealth } from './redis-health.ts';
import { SharedPrefixIndexStore } from './shared-prefix-history.ts';
import { SharedSessionAffinityStore } from './shared-session-store.ts';

export interface ClusterStateOptions {
  /**
   * The in-memory index to use as the local mirror (e.g. one whose buffers reader threads already
   * attached to). Default: a new one from `mirrorOptions`. A given mirror is not closed by
   * {@link ClusterState.close}.
   */
  readonly mirror?: MemoryBlockIndex;
  readonly mirrorOptions?: MemoryBlockIndexOptions;
}

export interface ClusterStateEvents {
  /** Redis became unavailable; routing continues on local state. */
  degraded: [reason: string];
  /** Redis is back and the state was re-synchronised. */
  recovered: [];
}

export class ClusterState extends EventEmitter<ClusterStateEvents> {
  readonly config: ClusterStateConfig;
  readonly replicaId: string;
  readonly keys: ClusterKeys;
  /** The shared block index (lookups read the local mirror). */
  readonly index: ClusterBlockIndex;
  /** Pass to `KvEventSubscriber` as `ingestor` (with `index`). */
  readonly ingestor: ClusterKvEventIngestor;
  readonly inflight: ClusterInflight;
  /** Where replicas agree a new prefix goes; null when `placementClaims.enabled` is false. */
  readonly placementClaims: PlacementClaims | null;
  readonly counters: ClusterCounters;
  readonly #logger: Logger;
  readonly #clients: RedisClient[];
  readonly #command: RedisClient;
  readonly #health: RedisHealth;
  readonly #watchdog: ConnectionWatchdog;
  readonly #hub: PubSubHub;
  readonly #feed: ChangeFeed;
  readonly #ownership: PodOwnership;
  readonly #ownsMirror: boolean;
  readonly #sessions = new Map<string, SharedSessionAffinityStore>();
  readonly #histories = new Map<string, SharedPrefixIndexStore>();
  readonly #picker: PickerStateMirror;
  readonly #ready: Promise<void>;
  #resolveReady!: () => void;
  #recovering: Promise<void> | null = null;
  #recoverAgain = false;
  #syncedOnce = false;
  /** Set by a completed resync, cleared when Redis becomes unavailable. */
  #inSync = false;
  #instance: string | null = null;
  #closed = false;

  /** Prefer {@link createClusterState}, which also waits for the first synchronisation. */
  constructor(config: ClusterStateConfig, logger: Logger, options: ClusterStateOptions = {}) {
    super();
    this.config = config;
    this.replicaId = config.replicaId ?? defaultReplicaId();
    this.#logger = logger.child({ component: 'cluster-state', replica: this.replicaId });
    this.keys = new ClusterKeys(config.keyPrefix, config.index.shards);
    this.counters = newClusterCounters();
    this.#ready = new Promise((resolve) => (this.#resolveReady = resolve));

    const name = (role: string): string => `kvedge:${this.replicaId}:${role}`;
    this.#command = createRedisClient(config, 'command', name('command'));
    const subscriber = createRedisClient(config, 'subscriber', name('subscriber'));
    const readers = Array.from({ length: config.index.shards }, (_, shard) =>
      createRedisClient(config, 'blocking', name(`stream-${shard}`)),
    );
    this.#clients = [this.#command, subscriber, ...readers];
    for (const client of [subscriber, ...readers]) {
      client.on('error', (err: Error) => this.#logger.debug({ err: err.message }, 'redis connection error'));
    }

    this.#health = new RedisHealth(
      this.#command,
      config.healthCheckIntervalMs,
      config.commandTimeoutMs,
      this.#logger,
    );
    this.#watchdog = new ConnectionWatchdog(this.#clients, 1000, this.#logger);
    this.#hub = new PubSubHub(subscriber, this.#logger);
    this.#picker = new PickerStateMirror(this.#storeDeps());
    const claims = config.placementClaims;
    this.placementClaims = claims.enabled
      ? new PlacementClaims({ ...this.#storeDeps(), ttlMs: claims.ttlMs, timeoutMs: claims.timeoutMs })
      : null;
    this.#ownsMirror = options.mirror === undefined;
    const mirror = options.mirror ?? MemoryBlockIndex.create(options.mirrorOptions);

    const ownershipRef: { current: PodOwnership | null } = { current: null };
    this.#feed = new ChangeFeed({
      command: this.#command,
      readers,
      keys: this.keys,
      mirror,
      replicaId: this.replicaId,
      health: this.#health,
      ingestsLocally: (podId) => ownershipRef.current?.hasLedger(podId) ?? false,
      onReleased: (podId) => this.ingestor.allowClaim(podId),
      readBlockMs: config.index.readBlockMs,
      readCount: config.index.readCount,
      counters: this.counters,
      logger: this.#logger,
    });
    const leases = new PodLeases(
      this.#command,
      this.keys,
      this.replicaId,
      config.index.leaseTtlMs,
      config.index.podStateTtlMs,
      config.index.streamMaxLen,
    );
    this.#ownership = new PodOwnership({
      client: this.#command,
      health: this.#health,
      keys: this.keys,
      leases,
      replicaId: this.replicaId,
      mirror,
      tracking: this.#feed,
      maxBlocksPerPod: config.index.maxBlocksPerPod,
      streamMaxLen: config.index.streamMaxLen,
      podStateTtlMs: config.index.podStateTtlMs,
      counters: this.counters,
      logger: this.#logger,
    });
    ownershipRef.current = this.#ownership;
    this.index = new ClusterBlockIndex({
      mirror,
      ownership: this.#ownership,
      feed: this.#feed,
      health: this.#health,
      client: this.#command,
      keys: this.keys,
      replicaId: this.replicaId,
      streamMaxLen: config.index.streamMaxLen,
      localIngestAfterMs: config.index.localIngestAfterMs,
      counters: this.counters,
      logger: this.#logger,
    });
    this.ingestor = new ClusterKvEventIngestor(this.index, {
      health: this.#health,
      counters: this.counters,
      handoverBufferBatches: config.index.handoverBufferBatches,
      leaseTtlMs: config.index.leaseTtlMs,
      hasLedger: (podId) => this.#ownership.hasLedger(podId),
    });
    this.inflight = new ClusterInflight({
      client: this.#command,
      hub: this.#hub,
      health: this.#health,
      keys: this.keys,
      replicaId: this.replicaId,
      publishIntervalMs: config.inflight.publishIntervalMs,
      pollIntervalMs: config.inflight.pollIntervalMs,
      ttlMs: config.inflight.ttlMs,
      counters: this.counters,
      logger: this.#logger,
    });

    this.#health.on('degraded', (reason) => {
      this.#inSync = false;
      this.emit('degraded', reason);
    });
    this.#health.on('recovered', () => this.#scheduleRecovery());
  }

  /**
   * True while Redis is unavailable, and until the state is re-synchronised after it returns:
   * routing runs on local state.
   */
  get degraded(): boolean {
    return !this.#health.healthy || !this.#inSync;
  }

  /** Times Redis became unavailable (for a counter metric). */
  get degradedTransitions(): number {
    return this.#health.degradedTransitions;
  }

  /** Total time spent degraded, in milliseconds. */
  get degradedMs(): number {
    return this.#health.degradedMs;
  }

  /** Pods whose KV events this replica applies for the cluster (it holds, or held, their lease). */
  ownedPods(): string[] {
    return this.#ownership.ownedPods();
  }

  /** KV-event batches buffered for possible takeovers. */
  get bufferedBatches(): number {
    return this.ingestor.bufferedBatches;
  }

  /** Resolves after the first full synchronisation with Redis. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** The shared session-affinity store of one plugin instance (created on first use). */
  sessionAffinityStore(
    pluginName: string,
    options: { ttlMs: number; sweepIntervalMs: number },
  ): SessionAffinityStore {
    let store = this.#sessions.get(pluginName);
    if (!store) {
      store = new SharedSessionAffinityStore({
        plugin: pluginName,
        ttlMs: options.ttlMs,
        sweepIntervalMs: options.sweepIntervalMs,
        sweepBatch: this.config.sessions.sweepBatch,
        ...this.#storeDeps(),
      });
      this.#sessions.set(pluginName, store);
      if (this.#syncedOnce) void store.reload();
    }
    return store;
  }

  /** What every shared store needs: the command connection, change feed, health and identity. */
  #storeDeps(): ClusterStoreDeps {
    return {
      client: this.#command,
      hub: this.#hub,
      health: this.#health,
      keys: this.keys,
      replicaId: this.replicaId,
      counters: this.counters,
      logger: this.#logger,
    };
  }

  /** The shared approximate-prefix history of one plugin instance (created on first use). */
  prefixIndexStore(pluginName: string): PrefixIndexStore {
    let store = this.#histories.get(pluginName);
    if (!store) {
      store = new SharedPrefixIndexStore({
        plugin: pluginName,
        ttlMs: this.config.prefixHistory.ttlMs,
        ...this.#storeDeps(),
      });
      this.#histories.set(pluginName, store);
      if (this.#syncedOnce) void store.reload();
    }
    return store;
  }

  /**
   * A scheduler state factory whose prefix history and session pins are shared, and whose precise
   * index is this cluster index. Other stores (no-hit LRU, round-robin cursor) come from `base`
   * (default: in memory): they are per-replica by nature.
   */
  schedulerState(base: SchedulerStateFactory = createInMemoryState()): SchedulerStateFactory {
    const index = this.index;
    return {
      prefixIndex: (name) => this.prefixIndexStore(name),
      noHitLru: (name, capacity) => base.noHitLru(name, capacity),
      sessionAffinity: (name, options) => this.sessionAffinityStore(name, options),
      roundRobinCursor: (name) => base.roundRobinCursor(name),
      prefillRates: (name, options) => this.#picker.rates(name, base.prefillRates(name, options)),
      cacheTurnover: (name, windowMs) => this.#picker.turnover(name, base.cacheTurnover(name, windowMs)),
      podLedger: (name, options) => this.#picker.ledger(name, base.podLedger(name, options)),
      blockIndex: {
        longestPrefix(blockKeys, endpointIds) {
          const out = new Map<string, number>();
          for (const [id, match] of index.longestPrefix(blockKeys, endpointIds)) out.set(id, match.weighted);
          return out;
        },
      },
      speculativeBlockIndex: {
        insertSpeculative(endpointId, blockKeys, _nowMs, ttlMs) {
          index.recordSpeculative(endpointId, blockKeys, ttlMs);
        },
      },
    };
  }

  /**
   * Clean shutdown: flushes pending index writes, hands owned pods back (leases released, so
   * another replica takes them at its next batch), deletes this replica's in-flight counts, and
   * closes the connections.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#recovering?.catch(() => undefined);
    await this.#ownership.close();
    await this.inflight.close();
    this.#stopLocal();
    await this.#feed.close();
    await Promise.allSettled(
      this.#clients.map((client) =>
        client.status === 'ready' ? client.quit().catch(() => client.disconnect()) : client.disconnect(),
      ),
    );
    if (this.#ownsMirror) this.index.mirror.close();
  }

  /**
   * Abrupt stop, as if the process died: sockets are destroyed, nothing is released or deleted
   * (leases and in-flight counts expire by TTL). For tests and fatal errors.
   */
  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ownership.abandon();
    this.inflight.abandon();
    this.#stopLocal();
    for (const client of this.#clients) client.disconnect();
    void this.#feed.close();
    if (this.#ownsMirror) this.index.mirror.close();
  }

  #stopLocal(): void {
    this.#watchdog.stop();
    for (const store of this.#sessions.values()) store.close();
    for (const store of this.#histories.values()) store.close();
    this.#picker.close();
    this.#health.close();
    this.#hub.close();
    this.index.close();
  }

  #scheduleRecovery(): void {
    if (this.#closed) return;
    if (this.#recovering) {
      this.#recoverAgain = true;
      return;
    }
    this.#recovering = (async () => {
      do {
        this.#recoverAgain = false;
        await this.#recover();
      } while (this.#recoverAgain && !this.#closed);
    })().finally(() => {
      this.#recovering = null;
    });
  }

  /** Re-synchronises everything after (re)connecting; a failure leaves the rest for the next recovery. */
  async #recover(): Promise<void> {
    const started = performance.now();
    try {
      const lost = await this.#checkInstance();
      if (this.#syncedOnce) this.ingestor.deferClaims();
      await this.#ownership.recover();
      await this.#feed.sync();
      await this.inflight.publishState();
      void this.inflight.poll();
      for (const store of [...this.#sessions.values(), ...this.#histories.values()]) {
        await store.resync(lost);
      }
    } catch (err) {
      this.counters.redisErrors++;
      this.#health.reportFailure(err);
      this.#logger.warn({ err }, 'cluster state resync failed; retried when redis is reachable');
      return;
    }
    if (!this.#health.healthy) return;
    const first = !this.#syncedOnce;
    this.#syncedOnce = true;
    this.#inSync = true;
    this.#logger.info({ ms: Math.round(performance.now() - started), first }, 'cluster state synchronised');
    if (first) this.#resolveReady();
    this.emit('recovered');
  }

  /** Whether Redis lost its data since this replica last saw it (or this is the first contact). */
  async #checkInstance(): Promise<boolean> {
    const key = this.keys.instance();
    await this.#command.set(key, randomBytes(8).toString('hex'), 'NX');
    const current = await this.#command.get(key);
    const lost = current !== this.#instance;
    this.#instance = current;
    return lost;
  }
}

/**
 * Parses `config`, connects to Redis and waits (up to `startupTimeoutMs`) for the first
 * synchronisation. Never fails because Redis is unreachable: the state then starts degraded and
 * synchronises when Redis appears. Throws only for an invalid configuration.
 */
export async function createClusterState(
  config: ClusterStateConfigInput,
  logger: Logger,
  options: ClusterStateOptions = {},
): Promise<ClusterState> {
  const parsed = parseClusterStateConfig(config);
  const state = new ClusterState(parsed, logger, options);
  if (parsed.startupTimeoutMs > 0) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, parsed.startupTimeoutMs);
      timer.unref();
    });
    await Promise.race([state.ready(), timeout]);
    clearTimeout(timer);
  }
  return state;
}
