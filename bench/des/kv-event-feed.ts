/**
 * Carries each simulated engine's KV events to the router's index the way ZeroMQ would: after a
 * delivery delay, in order, through the same `KvEventIngestor` the live router runs (engine hashes
 * normalized to u64 as the wire decoder does). Events from a pod that has since died are dropped,
 * as a closed socket would. Also counts the blocks each pod reports cached (Dynamo's "tree size").
 */
import { normalizeWireHash } from '../../src/kv-protocol/event-decoder.ts';
import type { KvEvent, WireBlockHash } from '../../src/kv-protocol/events.ts';
import type { KvEventIngestor } from '../../src/index-store/kv-event-ingestor.ts';
import type { VirtualClock } from '../../src/sim/engine/virtual-clock.ts';

function u64(hash: WireBlockHash): bigint {
  return normalizeWireHash(hash) as bigint;
}

/** The decoder's view of an in-process event: hashes as u64. */
export function normalizeEvent(event: KvEvent): KvEvent<bigint> {
  switch (event.type) {
    case 'BlockStored':
      return {
        ...event,
        blockHashes: event.blockHashes.map(u64),
        parentBlockHash: event.parentBlockHash === null ? null : u64(event.parentBlockHash),
      };
    case 'BlockRemoved':
      return { ...event, blockHashes: event.blockHashes.map(u64) };
    case 'AllBlocksCleared':
      return event;
  }
}

export class KvEventFeed {
  private readonly cached = new Map<string, number>();
  /** Batches delivered to the ingestor. */
  delivered = 0;
  /** First ingestion error, if any (the driver fails the run on it). */
  failure: unknown = null;

  constructor(
    private readonly clock: VirtualClock,
    private readonly ingestor: KvEventIngestor,
    private readonly model: string,
    private readonly delayS: number,
  ) {}

  /** Schedules delivery of one step's events; `stillLive` is checked at delivery time. */
  publish(podId: string, events: readonly KvEvent[], stillLive: () => boolean): void {
    const normalized = events.map(normalizeEvent);
    this.clock.setTimer(this.delayS, () => {
      if (!stillLive()) return;
      this.count(podId, normalized);
      this.delivered++;
      // The in-memory index applies the whole batch synchronously; the promise only reports errors.
      this.ingestor.applyBatch(podId, this.model, normalized).catch((error: unknown) => {
        this.failure ??= error;
      });
    });
  }

  /** Blocks `podId` currently reports cached. */
  cachedBlocks(podId: string): number {
    return this.cached.get(podId) ?? 0;
  }

  /** The pod left: forget its count. */
  forget(podId: string): void {
    this.cached.delete(podId);
  }

  private count(podId: string, events: readonly KvEvent<bigint>[]): void {
    let n = this.cached.get(podId) ?? 0;
    for (const event of events) {
      if (event.type === 'BlockStored') n += event.blockHashes.length;
      else if (event.type === 'BlockRemoved') n -= event.blockHashes.length;
      else n = 0;
    }
    this.cached.set(podId, Math.max(0, n));
  }
}
