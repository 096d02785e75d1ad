/**
 * The KV-event ingestor for a cluster: hand it to `KvEventSubscriber` (`ingestor` option) on every
 * replica, each dialled to every pod. For each pod, one replica (the lease holder) applies the
 * events and publishes the changes; the others keep the batches in a short buffer and apply
 * nothing, so each event is applied once per cluster.
 *
 * - A batch for a pod no one seems to own makes this replica claim it (at most once per half lease
 *   TTL per pod); a claim taken over from a dead owner first replays the buffered batches its
 *   predecessor never wrote.
 * - While Redis is unavailable, owners keep applying (their writes queue) and, after
 *   `localIngestAfterMs`, every other replica applies every batch locally too (routing keeps
 *   learning), starting with what it buffered since Redis went away.
 * - After Redis comes back, replicas without the pod's ledger wait one lease TTL before claiming,
 *   so the previous owner, which holds the newest state, gets its pods back first.
 *
 * Batches of one pod are applied one after another even if the caller does not wait.
 */
import type { KvEvent } from '../kv-protocol/events.ts';
import { KvEventIngestor } from '../index-store/kv-event-ingestor.ts';
import type { ClusterBlockIndex, IngestionRole } from './cluster-block-index.ts';
import type { ClusterCounters } from './cluster-counters.ts';
import { batchFingerprint, HandoverBuffer } from './handover-buffer.ts';
import type { RedisHealth } from './redis-health.ts';

export interface ClusterKvEventIngestorOptions {
  readonly health: RedisHealth;
  readonly counters: ClusterCounters;
  /** Batches buffered per pod owned elsewhere. */
  readonly handoverBufferBatches: number;
  /** Lease TTL: claims are retried every half of it, and held back this long after a recovery. */
  readonly leaseTtlMs: number;
  readonly hasLedger: (podId: string) => boolean;
}

export class ClusterKvEventIngestor extends KvEventIngestor {
  readonly #index: ClusterBlockIndex;
  readonly #o: ClusterKvEventIngestorOptions;
  readonly #buffer: HandoverBuffer;
  readonly #chains = new Map<string, Promise<void>>();
  readonly #lastClaim = new Map<string, number>();
  #claimsAllowedAt = 0;

  constructor(index: ClusterBlockIndex, options: ClusterKvEventIngestorOptions) {
    super(index);
    this.#index = index;
    this.#o = options;
    this.#buffer = new HandoverBuffer(options.handoverBufferBatches);
  }

  /** Holds back claims of pods this replica has no ledger for, for one lease TTL (after a recovery). */
  deferClaims(): void {
    this.#claimsAllowedAt = performance.now() + this.#o.leaseTtlMs;
    this.#lastClaim.clear();
  }

  /** The pod's owner released it: claim it at the next batch. */
  allowClaim(podId: string): void {
    this.#lastClaim.delete(podId);
  }

  /** Batches held for possible takeovers. */
  get bufferedBatches(): number {
    return this.#buffer.size;
  }

  override applyBatch(podId: string, model: string, events: readonly KvEvent<bigint>[]): Promise<void> {
    const previous = this.#chains.get(podId) ?? Promise.resolve();
    const next = previous.then(() => this.#apply(podId, model, events));
    const settled = next.catch(() => undefined);
    this.#chains.set(podId, settled);
    void settled.then(() => {
      if (this.#chains.get(podId) === settled) this.#chains.delete(podId);
    });
    return next;
  }

  override forgetPod(podId: string): void {
    super.forgetPod(podId);
    this.#buffer.drop(podId);
    this.#lastClaim.delete(podId);
  }

  async #apply(podId: string, model: string, events: readonly KvEvent<bigint>[]): Promise<void> {
    const fingerprint = batchFingerprint(events);
    let role = this.#index.roleOf(podId);
    if (role === 'follower' && this.#mayClaim(podId)) role = await this.#claim(podId);
    switch (role) {
      case 'follower':
        this.#buffer.push(podId, { fingerprint, receivedAt: performance.now(), model, events });
        this.#o.counters.batchesFollowed++;
        return;
      case 'local':
        // Just switched to local ingestion: first what arrived since Redis went away (the owner may
        // have written some of it before; the pod is reloaded from Redis once it is back anyway).
        for (const batch of this.#buffer.since(podId, this.#o.health.degradedSince)) {
          await super.applyBatch(podId, batch.model, batch.events);
          this.#o.counters.batchesLocal++;
        }
        this.#buffer.drop(podId);
        this.#o.counters.batchesLocal++;
        break;
      case 'owner':
        this.#o.counters.batchesOwned++;
        this.#index.noteBatch(podId, fingerprint);
        break;
    }
    await super.applyBatch(podId, model, events);
  }

  #mayClaim(podId: string): boolean {
    const now = performance.now();
    if (now < this.#claimsAllowedAt && !this.#o.hasLedger(podId)) return false;
    const last = this.#lastClaim.get(podId);
    return last === undefined || now - last >= this.#o.leaseTtlMs / 2;
  }

  async #claim(podId: string): Promise<IngestionRole> {
    this.#lastClaim.set(podId, performance.now());
    let result;
    try {
      result = await this.#index.claimPod(podId);
    } catch (err) {
      this.#o.counters.redisErrors++;
      this.#o.health.reportFailure(err);
      return this.#index.roleOf(podId);
    }
    if (!result.owner) return this.#index.roleOf(podId);
    const replay = this.#buffer.after(podId, result.previousFingerprint);
    this.#buffer.drop(podId);
    if (replay === null) {
      this.#o.counters.handoverGaps++;
    } else {
      for (const batch of replay) {
        this.#index.noteBatch(podId, batch.fingerprint);
        await super.applyBatch(podId, batch.model, batch.events);
        this.#o.counters.handoverReplayedBatches++;
      }
    }
    return this.#index.roleOf(podId);
  }
}
