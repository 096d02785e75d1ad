/**
 * The write side of the Redis block index: the pods this replica ingests for the cluster, their
 * ledgers, and the fenced writes that turn their changes into change-stream entries and snapshot
 * updates.
 *
 * Per owned pod, changes are coalesced per microtask (one KV-event batch = one write) and sent by
 * one script that, atomically: checks the lease is ours and the snapshot is at the version we
 * last wrote; applies the ledger's field changes to the snapshot hashes; bumps the version; and
 * appends the changes to the shard's stream. Redis thus only ever holds a gapless sequence of one
 * owner's changes; a write that fails (Redis down, timeout, stale version) makes the owner rewrite
 * the whole snapshot from its ledger under a new epoch (a "republish"), which mirrors see as a
 * `snapshot` entry and reload.
 *
 * Taking a pod over ({@link PodOwnership.claim}) loads its snapshot into a new ledger and into the
 * local mirror, so the new owner continues exactly where Redis is; a replica that owned the pod
 * before and still has the newest state (Redis restarted empty, or it was the last writer)
 * republishes its ledger instead.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { BlockIndex } from '../index-store/block-index.ts';
import type { ClusterCounters } from './cluster-counters.ts';
import type { ClusterKeys } from './cluster-keys.ts';
import { packKeys } from './key-bytes.ts';
import { encodeChanges, type IndexChange } from './index-change.ts';
import { LuaScript, type ScriptArg } from './lua-script.ts';
import type { PodLeases } from './pod-leases.ts';
import { PodLedger } from './pod-ledger.ts';
import {
  ledgerFromSnapshot,
  loadSnapshotInto,
  LUA_FIELD_HELPERS,
  packBlockSets,
  packEngineSets,
  readPodSnapshot,
} from './pod-snapshot.ts';
import type { RedisClient } from './redis-connection.ts';
import type { RedisHealth } from './redis-health.ts';

/**
 * KEYS: lease, meta, blocks, engine, log, pods.
 * ARGV: replica, epoch, previous version, pod, fingerprint, payload, maxlen, pod TTL, mode
 * (0 = apply, 1 = clear first, 2 = remove the pod), then the packed block sets, block deletes,
 * engine sets and engine deletes (`pod-snapshot.ts`).
 * Returns the new version, -1 if the lease is not ours, -2 if the snapshot is not where we left it.
 */
const APPLY = new LuaScript(`${LUA_FIELD_HELPERS}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local meta = redis.call('HMGET', KEYS[2], 'e', 'v')
if meta[1] ~= ARGV[2] or tonumber(meta[2]) ~= tonumber(ARGV[3]) then return -2 end
local version = tonumber(ARGV[3]) + 1
local mode = ARGV[9]
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[7], '*', 'p', ARGV[4], 'e', ARGV[2], 'v', version, 'r', ARGV[1], 'd', ARGV[6])
if mode == '2' then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
  redis.call('SREM', KEYS[6], ARGV[4])
  return version
end
if mode == '1' then redis.call('DEL', KEYS[3], KEYS[4]) end
hsetBlocks(KEYS[3], ARGV[10])
hdelKeys(KEYS[3], ARGV[11])
hsetEngine(KEYS[4], ARGV[12])
hdelKeys(KEYS[4], ARGV[13])
redis.call('HSET', KEYS[2], 'v', version, 'fp', ARGV[5], 'o', ARGV[1])
for k = 2, 4 do redis.call('PEXPIRE', KEYS[k], ARGV[8]) end
return version
`);

/** Fills a staging hash for a republish. KEYS: staging blocks, staging engine. ARGV: packed sets, TTL. */
const STAGE = new LuaScript(`${LUA_FIELD_HELPERS}
hsetBlocks(KEYS[1], ARGV[1])
hsetEngine(KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
`);

/**
 * Swaps a republished snapshot in. KEYS: lease, meta, blocks, engine, staging blocks, staging
 * engine, log, pods. ARGV: replica, epoch, pod, fingerprint, payload, maxlen, pod TTL.
 */
const COMMIT = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  redis.call('DEL', KEYS[5], KEYS[6])
  return -1
end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
if redis.call('EXISTS', KEYS[5]) == 1 then redis.call('RENAME', KEYS[5], KEYS[3]) end
if redis.call('EXISTS', KEYS[6]) == 1 then redis.call('RENAME', KEYS[6], KEYS[4]) end
redis.call('HSET', KEYS[2], 'e', ARGV[2], 'v', 1, 'fp', ARGV[4], 'o', ARGV[1])
redis.call('XADD', KEYS[7], 'MAXLEN', '~', ARGV[6], '*', 'p', ARGV[3], 'e', ARGV[2], 'v', 1, 'r', ARGV[1], 'd', ARGV[5])
redis.call('SADD', KEYS[8], ARGV[3])
for k = 2, 4 do redis.call('PEXPIRE', KEYS[k], ARGV[7]) end
return 1
`);

const SNAPSHOT_PAYLOAD = encodeChanges([{ op: 'snapshot' }]);
/** Sends of one write that may fail while Redis looks healthy before the pod is republished. */
const WRITE_ATTEMPTS = 5;
/**
 * A write closes at the first batch boundary after this many keys, so that one write (one script
 * call, one stream entry) stays a few hundred KB however far Redis falls behind.
 */
const UNIT_KEYS = 8192;
/**
 * Keys queued per pod behind an unanswered write or while Redis is away (about 40 bytes each once
 * packed, so ~10 MB per pod at most); beyond it the pod is republished instead.
 */
const MAX_QUEUED_KEYS = 1 << 18;
/** Entries per script call while staging a republish. */
const STAGING_CHUNK = 4096;
const STAGING_TTL_MS = 120_000;

/**
 * One write: the changes of whole batches (as the stream entry payload) and the snapshot fields
 * they changed, packed once. It leaves the queue only when Redis has it for sure.
 */
interface WriteUnit {
  readonly payload: Buffer;
  readonly mode: 0 | 1;
  /** Packed block sets, block deletes, engine sets, engine deletes. */
  readonly fields: readonly [Buffer, Buffer, Buffer, Buffer];
  /** The last batch it completes. */
  readonly fingerprint: string;
  readonly keys: number;
  /** A send failed without an answer: Redis may or may not have applied it. */
  uncertain: boolean;
  attempts: number;
}

interface OwnedPod {
  readonly podId: string;
  ledger: PodLedger;
  epoch: string;
  /** Version of the snapshot in Redis as last confirmed; the next write expects it. */
  confirmedVersion: number;
  /** Changes of the write being assembled. */
  pending: IndexChange[];
  pendingKeys: number;
  /** Writes assembled and waiting for the one in flight. */
  units: WriteUnit[];
  /** Keys in `pending` and `units`. */
  queuedKeys: number;
  /** The write Redis has not answered yet (one at a time: later changes wait and coalesce). */
  inflight: Promise<void> | null;
  /** Fingerprint of the batch being applied (complete once the next one starts). */
  fingerprint: string;
  needsRepublish: boolean;
  flushQueued: boolean;
  republishing: Promise<void> | null;
  /**
   * A write found the lease not ours. It may be someone else's, or just gone (Redis restarted
   * empty): the lease is claimed again once the write in progress settled, and only given up if
   * another replica holds it.
   */
  leaseInDoubt: boolean;
}

/** What a takeover found. */
export interface ClaimResult {
  readonly owner: boolean;
  /**
   * Fingerprint of the last batch the previous owner wrote ('' if none, null when the pod had no
   * snapshot): the ingestor replays what it buffered after it.
   */
  readonly previousFingerprint: string | null;
}

/** What the ownership needs from the mirror's change feed. */
export interface MirrorTracking {
  /** The mirror now reflects (epoch, version) of the pod. */
  track(podId: string, epoch: string, version: number): void;
  /** Whether the mirror already holds exactly (epoch, version) of the pod. */
  isAt(podId: string, epoch: string, version: number): boolean;
  /** Reload the pod from Redis (the local mirror may hold changes Redis never got). */
  resync(podId: string): void;
}

export interface PodOwnershipOptions {
  readonly client: RedisClient;
  readonly health: RedisHealth;
  readonly keys: ClusterKeys;
  readonly leases: PodLeases;
  readonly replicaId: string;
  readonly mirror: BlockIndex;
  readonly tracking: MirrorTracking;
  readonly maxBlocksPerPod: number;
  readonly streamMaxLen: number;
  readonly podStateTtlMs: number;
  readonly counters: ClusterCounters;
  readonly logger: Logger;
}

export class PodOwnership {
  readonly #o: PodOwnershipOptions;
  readonly #owned = new Map<string, OwnedPod>();
  #renewTimer: NodeJS.Timeout | null = null;
  #renewing = false;
  #closed = false;

  constructor(options: PodOwnershipOptions) {
    this.#o = options;
    const interval = Math.max(50, Math.floor(options.leases.ttlMs / 3));
    this.#renewTimer = setInterval(() => void this.renew(), interval);
    this.#renewTimer.unref();
  }

  /** Whether this replica is the pod's lease holder right now (its writes go to Redis). */
  owns(podId: string): boolean {
    return this.#owned.has(podId) && this.#o.leases.holds(podId);
  }

  /** Whether this replica keeps the pod's ledger (it owns it, or did until Redis became unavailable). */
  hasLedger(podId: string): boolean {
    return this.#owned.has(podId);
  }

  /** Pods with a ledger here. */
  ownedPods(): string[] {
    return [...this.#owned.keys()];
  }

  /** Records the fingerprint of the batch about to be applied (stored with the write that ends it). */
  noteFingerprint(podId: string, fingerprint: string): void {
    const pod = this.#owned.get(podId);
    if (!pod) return;
    // A batch boundary: a large enough write closes here, so no write holds part of a batch.
    if (pod.pendingKeys >= UNIT_KEYS) this.#seal(pod);
    pod.fingerprint = fingerprint;
  }

  /**
   * An owned pod changed: `mutateLedger` applies the change to the ledger, `change` is what mirrors
   * will apply. Written to Redis at the end of the current microtask, with whatever else changed.
   */
  record(podId: string, change: IndexChange, mutateLedger: (ledger: PodLedger) => void): void {
    const pod = this.#owned.get(podId);
    if (!pod) return;
    mutateLedger(pod.ledger);
    if (pod.needsRepublish) {
      // A republish is due and will carry the ledger whole; individual changes need not be kept.
      // (During a republish in progress they must be: they come after its captured state.)
      this.#dropQueued(pod);
    } else if (pod.queuedKeys >= MAX_QUEUED_KEYS) {
      // Redis is too slow to keep up: stop queueing, rewrite the snapshot once it answers again.
      this.#dropQueued(pod);
      pod.needsRepublish = true;
    } else {
      const keys = keysOf(change);
      pod.pending.push(change);
      pod.pendingKeys += keys;
      pod.queuedKeys += keys;
    }
    this.#queueFlush(pod);
  }

  /**
   * Tries to become the pod's ingestion owner. Throws when Redis fails (the caller falls back to
   * local ingestion).
   */
  async claim(podId: string): Promise<ClaimResult> {
    const { leases, client, keys, replicaId } = this.#o;
    const lease = await leases.acquire(podId);
    if (lease === 'held-by-other') {
      const stale = this.#owned.get(podId);
      if (stale) this.#lose(stale);
      return { owner: false, previousFingerprint: null };
    }
    if (lease === 'acquired') this.#o.counters.leasesAcquired++;
    const snapshot = await readPodSnapshot(
      client,
      keys.podMeta(podId),
      keys.podBlocks(podId),
      keys.podEngine(podId),
    );
    const meta = snapshot.meta;
    const existing = this.#owned.get(podId);
    if (existing?.inflight) {
      // Its outcome decides whether Redis is where the ledger thinks: look again once it settled.
      await existing.inflight;
      return this.claim(podId);
    }
    if (existing) {
      const head = existing.units[0];
      if (
        meta &&
        meta.epoch === existing.epoch &&
        head?.uncertain &&
        meta.version === existing.confirmedVersion + 1
      ) {
        this.#confirm(existing, head, meta.version); // the write whose answer was lost did apply
      }
      const inSync =
        meta !== null &&
        meta.epoch === existing.epoch &&
        meta.version === existing.confirmedVersion &&
        !existing.needsRepublish;
      if (inSync) {
        // Writes queued while Redis was away continue from here.
        if (head) head.uncertain = false;
        this.#queueFlush(existing);
        return { owner: true, previousFingerprint: meta.fingerprint };
      }
      if (meta === null || meta.owner === replicaId) {
        // Redis lost the pod, or we wrote last and some write went unconfirmed: our ledger is newest.
        existing.needsRepublish = true;
        this.#queueFlush(existing);
        return { owner: true, previousFingerprint: meta?.fingerprint ?? null };
      }
      // Another replica owned the pod since: its snapshot is newer than our ledger.
      this.#owned.delete(podId);
    }
    const pod: OwnedPod = {
      podId,
      ledger: meta
        ? ledgerFromSnapshot(snapshot, this.#o.maxBlocksPerPod)
        : new PodLedger(this.#o.maxBlocksPerPod),
      epoch: meta?.epoch ?? '',
      confirmedVersion: meta?.version ?? 0,
      pending: [],
      pendingKeys: 0,
      units: [],
      queuedKeys: 0,
      inflight: null,
      fingerprint: meta?.fingerprint ?? '',
      needsRepublish: meta === null,
      flushQueued: false,
      republishing: null,
      leaseInDoubt: false,
    };
    this.#owned.set(podId, pod);
    // The local mirror must hold exactly what the ledger holds before new changes apply on top;
    // a mirror that followed the pod up to this version already does.
    if (!meta || !this.#o.tracking.isAt(podId, meta.epoch, meta.version)) {
      loadSnapshotInto(this.#o.mirror, podId, snapshot.blocks, snapshot.engine);
    }
    if (meta) this.#o.tracking.track(podId, meta.epoch, meta.version);
    if (pod.needsRepublish) this.#queueFlush(pod);
    this.#o.logger.debug(
      { podId, epoch: pod.epoch, version: pod.confirmedVersion },
      'took over pod ingestion',
    );
    return { owner: true, previousFingerprint: meta ? meta.fingerprint : null };
  }

  /** Publishes the pod's removal, deletes its snapshot and lease, and forgets it. */
  removePod(podId: string): void {
    const pod = this.#owned.get(podId);
    if (!pod) return;
    this.#owned.delete(podId);
    if (!this.#o.health.healthy || pod.needsRepublish || pod.republishing || pod.units.length > 0) {
      // Nothing consistent to append to: let the snapshot expire with the lease.
      void this.#o.leases.release(podId).catch((err: unknown) => this.#failed(err));
      return;
    }
    const afterInflight = pod.inflight ?? Promise.resolve();
    void afterInflight.then(() => this.#sendRemoval(pod));
  }

  /** Renews the leases of owned pods; a lease found missing or taken is claimed again (or given up). */
  async renew(): Promise<void> {
    if (this.#closed || this.#renewing || !this.#o.health.healthy || this.#owned.size === 0) return;
    this.#renewing = true;
    try {
      const lost = await this.#o.leases.renew([...this.#owned.keys()]);
      for (const podId of lost) {
        const pod = this.#owned.get(podId);
        if (pod && !pod.inflight && !pod.republishing) void this.#reclaim(pod);
        else if (pod) pod.leaseInDoubt = true;
      }
    } catch (err) {
      this.#failed(err);
    } finally {
      this.#renewing = false;
    }
  }

  /** After Redis came back: re-acquires every pod this replica has a ledger for. */
  async recover(): Promise<void> {
    for (const podId of [...this.#owned.keys()]) {
      try {
        const result = await this.claim(podId);
        if (!result.owner) this.#o.logger.info({ podId }, 'pod taken over by another replica while degraded');
      } catch (err) {
        this.#failed(err);
        return;
      }
    }
  }

  /** Sends what is pending, waits for republishes, and releases every lease (clean handover). */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#renewTimer) clearInterval(this.#renewTimer);
    const pods = [...this.#owned.values()];
    // A completed write may leave changes that arrived meanwhile: a few rounds drain them.
    for (let round = 0; round < 3; round++) {
      for (const pod of pods) this.#flush(pod);
      await Promise.allSettled(pods.map((pod) => pod.republishing ?? pod.inflight ?? Promise.resolve()));
      if (pods.every((pod) => pod.units.length === 0 && pod.pending.length === 0)) break;
    }
    this.#closed = true;
    if (!this.#o.health.healthy) return;
    await Promise.allSettled(pods.map((pod) => this.#o.leases.release(pod.podId)));
  }

  /** Stops timers without releasing anything (the process is going away abruptly). */
  abandon(): void {
    this.#closed = true;
    if (this.#renewTimer) clearInterval(this.#renewTimer);
  }

  #queueFlush(pod: OwnedPod): void {
    if (pod.flushQueued) return;
    pod.flushQueued = true;
    queueMicrotask(() => this.#flush(pod));
  }

  #flush(pod: OwnedPod): void {
    pod.flushQueued = false;
    if (this.#closed || this.#owned.get(pod.podId) !== pod) return;
    const healthy = this.#o.health.healthy;
    if (pod.needsRepublish) {
      if (healthy) this.#republish(pod);
      return;
    }
    // End of a microtask: the batch being applied is complete. Sealing packs its changes, which
    // is also the compact form they wait in while Redis is away (bounded, see `record`).
    this.#seal(pod);
    if (!healthy || pod.republishing || pod.inflight) return; // flushed again when that ends
    const unit = pod.units[0];
    if (unit) this.#send(pod, unit);
  }

  /** Closes the write being assembled. */
  #seal(pod: OwnedPod): void {
    if (pod.pending.length === 0 && !pod.ledger.dirty) return;
    const fields = pod.ledger.takeChanges();
    pod.units.push({
      payload: encodeChanges(pod.pending),
      mode: fields.cleared ? 1 : 0,
      fields: [
        packBlockSets(fields.blockSets, fields.blockSets.length),
        packKeys(fields.blockDeletes),
        packEngineSets(fields.engineSets),
        packKeys(fields.engineDeletes),
      ],
      fingerprint: pod.fingerprint,
      keys: pod.pendingKeys,
      uncertain: false,
      attempts: 0,
    });
    pod.pending = [];
    pod.pendingKeys = 0;
  }

  /** Forgets queued writes (a republish will carry the ledger whole). */
  #dropQueued(pod: OwnedPod): void {
    pod.pending = [];
    pod.pendingKeys = 0;
    pod.units = [];
    pod.queuedKeys = 0;
    pod.ledger.discardChanges();
  }

  /** The head write of the queue is in Redis as `version`. */
  #confirm(pod: OwnedPod, unit: WriteUnit, version: number): void {
    if (pod.units[0] === unit) pod.units.shift();
    pod.queuedKeys -= unit.keys;
    pod.confirmedVersion = version;
    this.#o.counters.changesPublished++;
    this.#o.tracking.track(pod.podId, pod.epoch, version);
  }

  /**
   * Sends the head write. A write whose outcome is unknown (timeout, dropped connection) stays at
   * the head, marked uncertain; before it is sent again the snapshot's version tells whether it
   * already applied.
   */
  #send(pod: OwnedPod, unit: WriteUnit): void {
    const { keys, replicaId, client, counters } = this.#o;
    const podId = pod.podId;
    const epoch = pod.epoch;
    const previous = pod.confirmedVersion;
    const scriptKeys = [
      keys.lease(podId),
      keys.podMeta(podId),
      keys.podBlocks(podId),
      keys.podEngine(podId),
      keys.log(keys.shardOf(podId)),
      keys.pods(keys.shardOf(podId)),
    ];
    const args: ScriptArg[] = [
      replicaId,
      epoch,
      previous,
      podId,
      unit.fingerprint,
      unit.payload,
      this.#o.streamMaxLen,
      this.#o.podStateTtlMs,
      unit.mode,
      ...unit.fields,
    ];
    const attempt = async (): Promise<number> => {
      if (unit.uncertain) {
        const applied = await this.#appliedVersion(podId, epoch);
        if (applied === previous + 1) return applied; // it went through; only the answer was lost
        if (applied !== previous) return -2;
        unit.uncertain = false;
      }
      return Number(await APPLY.run(client, scriptKeys, args));
    };
    unit.attempts++;
    pod.inflight = attempt()
      .then(
        (version) => {
          if (this.#owned.get(podId) !== pod || pod.epoch !== epoch) return;
          if (version > 0) {
            this.#confirm(pod, unit, version);
            return;
          }
          counters.publishFailures++;
          if (version === -1) pod.leaseInDoubt = true;
          else pod.needsRepublish = true; // the snapshot moved under us
        },
        (err: unknown) => {
          counters.publishFailures++;
          this.#failed(err);
          unit.uncertain = true;
          // Repeated failures while Redis looks fine: stop retrying piecemeal, rewrite the snapshot.
          if (this.#o.health.healthy && unit.attempts >= WRITE_ATTEMPTS) pod.needsRepublish = true;
        },
      )
      .finally(() => {
        pod.inflight = null;
        if (this.#owned.get(podId) !== pod) return;
        if (pod.leaseInDoubt) {
          void this.#reclaim(pod);
          return;
        }
        if (pod.units.length > 0 || pod.pending.length > 0 || pod.ledger.dirty || pod.needsRepublish) {
          if (unit.uncertain) setTimeout(() => this.#queueFlush(pod), 50 * unit.attempts).unref();
          else this.#queueFlush(pod);
        }
      });
  }

  /** Sends a pod's removal (best effort: if it fails, the snapshot expires with its TTL). */
  #sendRemoval(pod: OwnedPod): void {
    const { keys, replicaId, client, counters } = this.#o;
    const podId = pod.podId;
    APPLY.run(
      client,
      [
        keys.lease(podId),
        keys.podMeta(podId),
        keys.podBlocks(podId),
        keys.podEngine(podId),
        keys.log(keys.shardOf(podId)),
        keys.pods(keys.shardOf(podId)),
      ],
      [
        replicaId,
        pod.epoch,
        pod.confirmedVersion,
        podId,
        pod.fingerprint,
        encodeChanges([{ op: 'remove' }]),
        this.#o.streamMaxLen,
        this.#o.podStateTtlMs,
        2,
        '',
        '',
        '',
        '',
      ],
    ).then(
      (reply) => {
        if (Number(reply) > 0) counters.changesPublished++;
      },
      (err: unknown) => this.#failed(err),
    );
  }

  /** The pod's snapshot version in Redis if it is still in `epoch`, else -1. Throws if Redis fails. */
  async #appliedVersion(podId: string, epoch: string): Promise<number> {
    const [e, v] = await this.#o.client.hmget(this.#o.keys.podMeta(podId), 'e', 'v');
    return e === epoch ? Number(v) : -1;
  }

  #republish(pod: OwnedPod): void {
    if (pod.republishing || !this.#o.health.healthy) return;
    pod.needsRepublish = false;
    pod.republishing = this.#runRepublish(pod).finally(() => {
      pod.republishing = null;
      if (pod.leaseInDoubt && this.#owned.get(pod.podId) === pod) {
        void this.#reclaim(pod);
        return;
      }
      if (
        this.#owned.get(pod.podId) === pod &&
        (pod.needsRepublish || pod.units.length > 0 || pod.pending.length > 0 || pod.ledger.dirty)
      ) {
        if (this.#o.health.healthy) this.#queueFlush(pod);
      }
    });
  }

  async #runRepublish(pod: OwnedPod): Promise<void> {
    const { keys, replicaId, client, counters } = this.#o;
    if (pod.inflight) await pod.inflight;
    const podId = pod.podId;
    const epoch = randomBytes(6).toString('hex');
    // The ledger as of now is the new snapshot; later changes are written after it.
    this.#dropQueued(pod);
    const stagingBlocks = keys.podStaging(podId, epoch, 'blocks');
    const stagingEngine = keys.podStaging(podId, epoch, 'engine');
    // Captured now, sent in slices: each script call stays small enough not to stall Redis. No
    // batch is half-applied at an await, so the capture ends with the batch `fingerprint` names.
    const blockEntries = [...pod.ledger.blocks];
    const engineEntries = [...pod.ledger.engine];
    const fingerprint = pod.fingerprint;
    try {
      for (let i = 0; i < Math.max(blockEntries.length, engineEntries.length, 1); i += STAGING_CHUNK) {
        const blocks = blockEntries.slice(i, i + STAGING_CHUNK);
        await STAGE.run(
          client,
          [stagingBlocks, stagingEngine],
          [
            packBlockSets(blocks, blocks.length),
            packEngineSets(engineEntries.slice(i, i + STAGING_CHUNK)),
            STAGING_TTL_MS,
          ],
        );
      }
      const reply = Number(
        await COMMIT.run(
          client,
          [
            keys.lease(podId),
            keys.podMeta(podId),
            keys.podBlocks(podId),
            keys.podEngine(podId),
            stagingBlocks,
            stagingEngine,
            keys.log(keys.shardOf(podId)),
            keys.pods(keys.shardOf(podId)),
          ],
          [
            replicaId,
            epoch,
            podId,
            fingerprint,
            SNAPSHOT_PAYLOAD,
            this.#o.streamMaxLen,
            this.#o.podStateTtlMs,
          ],
        ),
      );
      if (reply !== 1) {
        counters.publishFailures++;
        pod.leaseInDoubt = true;
        pod.needsRepublish = true;
        return;
      }
      pod.epoch = epoch;
      pod.confirmedVersion = 1;
      counters.republishes++;
      this.#o.tracking.track(podId, epoch, 1);
      this.#o.logger.debug({ podId, epoch, keys: pod.ledger.blocks.size }, 'republished pod snapshot');
    } catch (err) {
      counters.publishFailures++;
      this.#failed(err);
      pod.needsRepublish = true;
    }
  }

  /**
   * Claims a pod whose lease this replica found missing or taken: `claim` keeps the ledger when the
   * lease is free (republishing it if Redis lost the snapshot) and gives the pod up otherwise.
   */
  async #reclaim(pod: OwnedPod): Promise<void> {
    pod.leaseInDoubt = false;
    try {
      await this.claim(pod.podId);
    } catch (err) {
      this.#failed(err); // Redis unavailable: recovery claims the pod again
    }
  }

  /** The lease is someone else's: stop writing, and reload the pod in the mirror from Redis. */
  #lose(pod: OwnedPod): void {
    if (this.#owned.get(pod.podId) !== pod) return;
    this.#owned.delete(pod.podId);
    this.#o.leases.forget(pod.podId);
    this.#o.counters.leasesLost++;
    this.#o.logger.info({ podId: pod.podId }, 'lost pod ingestion lease');
    this.#o.tracking.resync(pod.podId);
  }

  #failed(err: unknown): void {
    this.#o.counters.redisErrors++;
    this.#o.health.reportFailure(err);
    this.#o.logger.debug({ err }, 'cluster index write failed');
  }
}

/** Keys a change carries (its weight in a write). */
function keysOf(change: IndexChange): number {
  switch (change.op) {
    case 'add':
      return change.keys.length + change.engineKeys.length;
    case 'rmKeys':
    case 'speculative':
      return change.keys.length;
    default:
      return 1;
  }
}
