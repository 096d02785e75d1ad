/**
 * The last KV-event batches of pods another replica ingests, kept (not applied) so that whoever
 * takes a pod over can apply what its previous owner never wrote to Redis.
 *
 * Batches are matched across replicas by a fingerprint of their content (every replica dialled to
 * a pod receives the same batches), since the ingestion API does not carry the publisher's
 * sequence number. The owner stores the fingerprint of the last batch it wrote in the pod's
 * snapshot; the new owner replays the batches it buffered after that one.
 */
import { createHash } from 'node:crypto';
import type { KvEvent } from '../kv-protocol/events.ts';

export interface BufferedBatch {
  readonly fingerprint: string;
  /** When it arrived (`performance.now()`). */
  readonly receivedAt: number;
  readonly model: string;
  readonly events: readonly KvEvent<bigint>[];
}

/** A 64-bit hex digest of a batch's events (types, tiers, block hashes, token counts). */
export function batchFingerprint(events: readonly KvEvent<bigint>[]): string {
  const hash = createHash('sha1');
  for (const event of events) {
    switch (event.type) {
      case 'BlockStored':
        hash.update(
          `S${event.medium ?? ''}|${event.parentBlockHash ?? ''}|${event.blockHashes.join(',')}|${event.tokenIds.length};`,
        );
        break;
      case 'BlockRemoved':
        hash.update(`R${event.medium ?? ''}|${event.blockHashes.join(',')};`);
        break;
      case 'AllBlocksCleared':
        hash.update('C;');
        break;
    }
  }
  return hash.digest('hex').slice(0, 16);
}

export class HandoverBuffer {
  readonly #capacity: number;
  readonly #pods = new Map<string, BufferedBatch[]>();

  /** @param capacity batches kept per pod; older ones are dropped. 0 disables buffering. */
  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  push(podId: string, batch: BufferedBatch): void {
    if (this.#capacity === 0) return;
    let batches = this.#pods.get(podId);
    if (!batches) {
      batches = [];
      this.#pods.set(podId, batches);
    }
    batches.push(batch);
    if (batches.length > this.#capacity) batches.splice(0, batches.length - this.#capacity);
  }

  /**
   * The batches after the one with `fingerprint` (its last occurrence), oldest first; all of them
   * when `fingerprint` is null (the pod had no snapshot). Null when the fingerprint is not in the
   * buffer: the previous owner's position is unknown, and replaying could apply a batch twice.
   */
  after(podId: string, fingerprint: string | null): BufferedBatch[] | null {
    const batches = this.#pods.get(podId) ?? [];
    if (fingerprint === null || fingerprint === '') return [...batches];
    for (let i = batches.length - 1; i >= 0; i--) {
      if (batches[i]!.fingerprint === fingerprint) return batches.slice(i + 1);
    }
    return batches.length === 0 ? [] : null;
  }

  /** The batches that arrived at or after `time`, oldest first. */
  since(podId: string, time: number): BufferedBatch[] {
    return (this.#pods.get(podId) ?? []).filter((batch) => batch.receivedAt >= time);
  }

  drop(podId: string): void {
    this.#pods.delete(podId);
  }

  /** Batches held over all pods. */
  get size(): number {
    let n = 0;
    for (const batches of this.#pods.values()) n += batches.length;
    return n;
  }
}
