/**
 * Main-thread side of precise prefix routing: the shared-memory block index (single writer) and
 * the ZeroMQ KV-event subscriber that feeds it, following the fleet as endpoints come and go.
 * Acceptor threads read the index through its SharedArrayBuffers and send speculative inserts
 * back over a BroadcastChannel (the owner is the only writer).
 */
import { BroadcastChannel } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { EndpointRegistry } from '../fleet/endpoint-registry.ts';
import type { EndpointInfo } from '../fleet/types.ts';
import type { BlockIndex } from '../index-store/block-index.ts';
import type { KvEventIngestor } from '../index-store/kv-event-ingestor.ts';
import { KvEventSubscriber } from '../index-store/kv-event-subscriber.ts';
import { MemoryBlockIndex, type MemoryBlockIndexOptions } from '../index-store/memory-index.ts';

export interface PreciseIndexOwnerOptions {
  readonly registry: EndpointRegistry;
  readonly index?: MemoryBlockIndexOptions;
  /** Channel on which acceptor threads post speculative inserts. */
  readonly speculativeChannel: string;
  readonly logger: Logger;
  /** Use this index instead of creating one (the Redis cluster state's local mirror). */
  readonly mirror?: MemoryBlockIndex;
  /**
   * With Redis cluster state: the index and ingestor that events go through (applied once per
   * cluster, then mirrored into `mirror`, which the threads read).
   */
  readonly cluster?: { readonly index: BlockIndex; readonly ingestor: KvEventIngestor };
}

export class PreciseIndexOwner {
  readonly index: MemoryBlockIndex;
  readonly subscriber: KvEventSubscriber;
  private readonly channel: BroadcastChannel;
  private readonly subscribed = new Set<string>();

  constructor(private readonly options: PreciseIndexOwnerOptions) {
    this.index = options.mirror ?? MemoryBlockIndex.create(options.index ?? {});
    const shared = options.cluster;
    this.subscriber = new KvEventSubscriber({
      index: shared?.index ?? this.index,
      ...(shared ? { ingestor: shared.ingestor } : {}),
      onError: (error, podId) =>
        options.logger.warn({ err: String(error), endpoint: podId }, 'kv-event error'),
    });
    // Readers post the reader-side message shape; the owner's write port applies it.
    const port = this.index.openWritePort();
    this.channel = new BroadcastChannel(options.speculativeChannel);
    (this.channel as unknown as { unref?: () => void }).unref?.();
    this.channel.onmessage = (event) => port.postMessage((event as { data: unknown }).data);
    port.unref();
    const { registry } = options;
    registry.on('added', (info) => this.follow(info));
    registry.on('updated', (info) => {
      void this.unfollow(info.id).then(() => this.follow(info));
    });
    registry.on('removed', (info) => void this.unfollow(info.id));
    for (const info of registry.endpoints()) this.follow(info);
  }

  /** What reader threads attach to. */
  get buffers(): MemoryBlockIndex['buffers'] {
    return this.index.buffers;
  }

  async close(): Promise<void> {
    this.channel.close();
    await this.subscriber.close();
    this.index.close();
  }

  private follow(info: EndpointInfo): void {
    if (!info.kvEventsEndpoint || this.subscribed.has(info.id)) return;
    this.subscribed.add(info.id);
    // An empty model lets the event topic (`kv@<pod>@<model>`) name the served model.
    this.subscriber.addPod(
      info.id,
      info.kvEventsEndpoint,
      info.kvReplayEndpoint ?? null,
      info.models[0] ?? '',
    );
    this.options.logger.info(
      { endpoint: info.id, kvEvents: info.kvEventsEndpoint },
      'subscribed to KV events',
    );
  }

  private async unfollow(id: string): Promise<void> {
    if (!this.subscribed.delete(id)) return;
    await this.subscriber.removePod(id);
  }
}
