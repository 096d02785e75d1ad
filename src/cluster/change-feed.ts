/**
 * Keeps the local mirror in step with Redis: loads every pod's snapshot, then tails each shard's
 * change stream (`XREAD BLOCK` on a dedicated connection) and applies the other replicas' changes.
 *
 * Exactly-once per pod rests on versions: a snapshot read says which version it contains, stream
 * entries carry theirs, and an entry applies only if it is the next one. Anything else (stream
 * trimmed past this reader, a write the owner could not complete, a new epoch after a republish)
 * reloads that pod from its snapshot, while entries that arrive meanwhile are queued and replayed
 * past the loaded version. Speculative entries carry no version and apply as they come, aged by
 * their transit time.
 *
 * Pods this replica ingests itself (it owns them, or Redis was down and it ingested locally) are
 * not fed from the stream: the owner's mirror is written directly, and a pod ingested locally is
 * marked diverged and reloaded once Redis is back.
 */
import type { Logger } from 'pino';
import type { BlockIndex } from '../index-store/block-index.ts';
import type { ClusterCounters } from './cluster-counters.ts';
import type { ClusterKeys } from './cluster-keys.ts';
import { applyChange, decodeChanges, type IndexChange } from './index-change.ts';
import { loadSnapshotInto, readPodSnapshot } from './pod-snapshot.ts';
import type { RedisClient } from './redis-connection.ts';
import type { RedisHealth } from './redis-health.ts';

interface Tracked {
  epoch: string;
  version: number;
}

interface Entry {
  readonly podId: string;
  readonly epoch: string;
  readonly version: number;
  readonly replica: string;
  readonly changes: IndexChange[];
}

export interface ChangeFeedOptions {
  readonly command: RedisClient;
  /** One blocking connection per shard. */
  readonly readers: readonly RedisClient[];
  readonly keys: ClusterKeys;
  readonly mirror: BlockIndex;
  readonly replicaId: string;
  readonly health: RedisHealth;
  /** Whether this replica writes the pod itself (its stream entries from others are ignored). */
  readonly ingestsLocally: (podId: string) => boolean;
  /** Another replica released the pod's lease (its followers may claim it now). */
  readonly onReleased?: (podId: string) => void;
  readonly readBlockMs: number;
  readonly readCount: number;
  readonly counters: ClusterCounters;
  readonly logger: Logger;
  readonly now?: () => number;
}

export class ChangeFeed {
  readonly #o: ChangeFeedOptions;
  readonly #tracked = new Map<string, Tracked>();
  /** Pods being reloaded → entries that arrived meanwhile. */
  readonly #reloading = new Map<string, { queue: Entry[]; done: Promise<void> }>();
  /** Pods whose mirror diverged from Redis (ingested locally while degraded). */
  readonly #diverged = new Set<string>();
  readonly #lastIds: string[];
  readonly #loops: Promise<void>[] = [];
  readonly #now: () => number;
  #synced = false;
  #closed = false;

  constructor(options: ChangeFeedOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.timeOrigin + performance.now());
    this.#lastIds = options.readers.map(() => '0-0');
  }

  /** Whether the first full sync completed (lookups reflect the cluster, not just this replica). */
  get synced(): boolean {
    return this.#synced;
  }

  /** The mirror holds (epoch, version) of the pod. */
  track(podId: string, epoch: string, version: number): void {
    const tracked = this.#tracked.get(podId);
    if (tracked && tracked.epoch === epoch && tracked.version >= version) return;
    this.#tracked.set(podId, { epoch, version });
    this.#diverged.delete(podId);
  }

  /** The pod's mirror state no longer matches Redis (local ingestion while degraded). */
  markDiverged(podId: string): void {
    this.#diverged.add(podId);
  }

  /** Whether the mirror holds exactly (epoch, version) of the pod, and has not diverged since. */
  isAt(podId: string, epoch: string, version: number): boolean {
    const tracked = this.#tracked.get(podId);
    return (
      tracked !== undefined &&
      tracked.epoch === epoch &&
      tracked.version === version &&
      !this.#diverged.has(podId)
    );
  }

  /** Forgets the pod (it left the fleet). */
  untrack(podId: string): void {
    this.#tracked.delete(podId);
    this.#diverged.delete(podId);
  }

  /** Reloads the pod from its snapshot now (or after Redis comes back). */
  resync(podId: string): void {
    if (!this.#o.health.healthy) {
      this.#diverged.add(podId);
      return;
    }
    void this.#reload(podId);
  }

  /**
   * Full synchronisation: notes each shard's stream end, then reloads every pod whose snapshot is
   * not what the mirror holds (and every diverged one). Starts the stream readers on first use.
   */
  async sync(): Promise<void> {
    const { command, keys } = this.#o;
    for (let shard = 0; shard < this.#lastIds.length; shard++) {
      const last = (await command.xrevrange(keys.log(shard), '+', '-', 'COUNT', 1)) as [string, string[]][];
      const lastId = last[0]?.[0] ?? '0-0';
      const first = (await command.xrange(keys.log(shard), '-', '+', 'COUNT', 1)) as [string, string[]][];
      const position = this.#lastIds[shard]!;
      // The stream still holds every entry after this reader's position (the reader was just
      // behind, e.g. reconnecting): it will deliver them, and only diverged pods need reloading.
      const continuous =
        this.#synced && (first[0] ? compareIds(first[0][0], position) <= 0 : position === '0-0');
      const inRedis = await command.smembers(keys.pods(shard));
      const candidates = new Set<string>(inRedis);
      for (const podId of this.#tracked.keys()) if (keys.shardOf(podId) === shard) candidates.add(podId);
      for (const podId of this.#diverged) if (keys.shardOf(podId) === shard) candidates.add(podId);
      const pods = [...candidates].filter((podId) => !this.#o.ingestsLocally(podId));
      const pipeline = command.pipeline();
      for (const podId of pods) pipeline.hmget(keys.podMeta(podId), 'e', 'v');
      const metas = pods.length > 0 ? ((await pipeline.exec()) ?? []) : [];
      const stale: string[] = [];
      pods.forEach((podId, i) => {
        const [err, reply] = metas[i] ?? [new Error('no reply'), null];
        if (err) throw err;
        const [epoch, version] = reply as [string | null, string | null];
        if (!epoch) return; // nothing in Redis (yet): keep what the mirror has
        if (this.#diverged.has(podId) || (!continuous && !this.isAt(podId, epoch, Number(version)))) {
          stale.push(podId);
        }
      });
      // One pod at a time, yielding between them: loading a large pod blocks the event loop for
      // a while, and routing (and timers) must get their turn between loads.
      for (const podId of stale) {
        await this.#reload(podId);
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (!continuous && compareIds(lastId, this.#lastIds[shard]!) > 0) this.#lastIds[shard] = lastId;
    }
    this.#synced = true;
    if (this.#loops.length === 0) {
      for (let shard = 0; shard < this.#lastIds.length; shard++) this.#loops.push(this.#read(shard));
    }
  }

  /** Stops the readers (their connections are closed by the owner of the clients). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const reader of this.#o.readers) reader.disconnect();
    await Promise.allSettled(this.#loops);
  }

  async #read(shard: number): Promise<void> {
    const reader = this.#o.readers[shard]!;
    const stream = this.#o.keys.log(shard);
    while (!this.#closed) {
      if (!this.#o.health.healthy || reader.status !== 'ready') {
        await sleep(50);
        continue;
      }
      let reply: [Buffer, [Buffer, Buffer[]][]][] | null;
      try {
        reply = (await reader.xreadBuffer(
          'COUNT',
          this.#o.readCount,
          'BLOCK',
          this.#o.readBlockMs,
          'STREAMS',
          stream,
          this.#lastIds[shard]!,
        )) as [Buffer, [Buffer, Buffer[]][]][] | null;
      } catch (err) {
        if (this.#closed) return;
        this.#o.logger.debug({ err, shard }, 'change stream read failed');
        await sleep(100);
        continue;
      }
      if (!reply) continue;
      for (const [, entries] of reply) {
        for (const [rawId, fields] of entries) {
          const id = rawId.toString('latin1');
          if (compareIds(id, this.#lastIds[shard]!) > 0) this.#lastIds[shard] = id;
          if (this.#closed) return;
          this.#onEntry(fields);
        }
      }
    }
  }

  #onEntry(fields: Buffer[]): void {
    let entry: Entry;
    try {
      entry = parseEntry(fields);
    } catch {
      this.#o.counters.badEntries++;
      return;
    }
    try {
      this.#handle(entry);
    } catch (err) {
      // A change the mirror rejects (it is closing, or its pod table is full) must not stop the feed.
      this.#o.counters.badEntries++;
      this.#o.logger.warn({ err, podId: entry.podId }, 'could not apply a change to the mirror');
    }
  }

  #handle(entry: Entry): void {
    const counters = this.#o.counters;
    const { podId } = entry;
    if (entry.replica === this.#o.replicaId) {
      if (entry.version > 0) this.track(podId, entry.epoch, entry.version);
      counters.changesSkipped++;
      return;
    }
    if (entry.version === 0) {
      this.#apply(entry);
      if (entry.changes.some((change) => change.op === 'released')) this.#o.onReleased?.(podId);
      return;
    }
    if (this.#o.ingestsLocally(podId)) {
      counters.changesSkipped++;
      return;
    }
    const reloading = this.#reloading.get(podId);
    if (reloading) {
      reloading.queue.push(entry);
      return;
    }
    const tracked = this.#tracked.get(podId);
    const first = entry.changes[0];
    if (first?.op !== 'snapshot' && tracked && tracked.epoch === entry.epoch) {
      if (entry.version <= tracked.version) {
        counters.changesSkipped++;
        return;
      }
      if (entry.version === tracked.version + 1) {
        this.#apply(entry);
        tracked.version = entry.version;
        if (entry.changes.some((change) => change.op === 'remove')) this.untrack(podId);
        return;
      }
    }
    if (!tracked && entry.changes.length === 1 && first?.op === 'remove') {
      this.#apply(entry);
      return;
    }
    void this.#reload(podId, entry);
  }

  #apply(entry: Entry): void {
    const now = this.#now();
    for (const change of entry.changes) applyChange(this.#o.mirror, entry.podId, change, now);
    this.#o.counters.changesApplied++;
  }

  /** Reloads a pod from its snapshot; `trigger` (and anything arriving meanwhile) is replayed after. */
  #reload(podId: string, trigger?: Entry): Promise<void> {
    const existing = this.#reloading.get(podId);
    if (existing) {
      if (trigger) existing.queue.push(trigger);
      return existing.done;
    }
    const queue: Entry[] = trigger ? [trigger] : [];
    const done = this.#runReload(podId, queue).finally(() => {
      this.#reloading.delete(podId);
      // Replay what arrived while loading; a remaining gap triggers another reload.
      for (const entry of queue) this.#handle(entry);
    });
    this.#reloading.set(podId, { queue, done });
    return done;
  }

  async #runReload(podId: string, queue: Entry[]): Promise<void> {
    const { command, keys } = this.#o;
    let snapshot;
    try {
      snapshot = await readPodSnapshot(
        command,
        keys.podMeta(podId),
        keys.podBlocks(podId),
        keys.podEngine(podId),
      );
    } catch (err) {
      this.#o.counters.redisErrors++;
      this.#o.health.reportFailure(err);
      this.#diverged.add(podId);
      queue.length = 0;
      return;
    }
    if (this.#o.ingestsLocally(podId)) {
      queue.length = 0;
      return;
    }
    if (!snapshot.meta) {
      // Nothing in Redis: the pod was removed, or Redis lost it and its owner will republish.
      queue.length = 0;
      return;
    }
    loadSnapshotInto(this.#o.mirror, podId, snapshot.blocks, snapshot.engine);
    this.#tracked.set(podId, { epoch: snapshot.meta.epoch, version: snapshot.meta.version });
    this.#diverged.delete(podId);
    this.#o.counters.podResyncs++;
    // Entries the snapshot already contains are skipped by version when replayed; a snapshot
    // marker of the epoch just loaded is redundant.
    const loaded = snapshot.meta;
    for (let i = queue.length - 1; i >= 0; i--) {
      const entry = queue[i]!;
      if (entry.epoch === loaded.epoch && entry.version <= loaded.version) queue.splice(i, 1);
    }
  }
}

function parseEntry(fields: Buffer[]): Entry {
  let podId: string | undefined;
  let epoch = '';
  let version = 0;
  let replica = '';
  let payload: Buffer | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const value = fields[i + 1]!;
    switch (fields[i]!.toString('latin1')) {
      case 'p':
        podId = value.toString('utf8');
        break;
      case 'e':
        epoch = value.toString('utf8');
        break;
      case 'v':
        version = Number(value.toString('latin1'));
        break;
      case 'r':
        replica = value.toString('utf8');
        break;
      case 'd':
        payload = value;
        break;
    }
  }
  if (podId === undefined || payload === undefined || !Number.isInteger(version))
    throw new Error('bad entry');
  return { podId, epoch, version, replica, changes: decodeChanges(payload) };
}

/** Orders stream ids (`ms-seq`). */
export function compareIds(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split('-').map(Number);
  const [bMs = 0, bSeq = 0] = b.split('-').map(Number);
  return aMs !== bMs ? aMs - bMs : aSeq - bSeq;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
