/**
 * One subscriber connection shared by every change feed that uses pub/sub (in-flight deltas,
 * session pins, prefix history). Pub/sub delivers at most once: whatever is published while the
 * connection is down is lost, so after every (re)subscription the hub calls each channel's
 * `onResubscribed`, where the consumer reloads the state the messages would have carried.
 */
import type { Logger } from 'pino';
import type { RedisClient } from './redis-connection.ts';

export interface ChannelHandler {
  /** A message, as raw bytes. Must not throw. */
  onMessage(message: Buffer): void;
  /** Called once the channel is (re)subscribed; reload what may have been missed. */
  onResubscribed?(): void;
}

export class PubSubHub {
  readonly #client: RedisClient;
  readonly #logger: Logger;
  readonly #handlers = new Map<string, ChannelHandler[]>();
  #closed = false;

  constructor(client: RedisClient, logger: Logger) {
    this.#client = client;
    this.#logger = logger;
    client.on('ready', () => void this.#subscribeAll());
    client.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      const handlers = this.#handlers.get(channel.toString('utf8'));
      if (!handlers) return;
      for (const handler of handlers) handler.onMessage(message);
    });
  }

  /** Adds a handler for `channel`, subscribing now when connected (else on the next `ready`). */
  subscribe(channel: string, handler: ChannelHandler): void {
    let handlers = this.#handlers.get(channel);
    const fresh = handlers === undefined;
    if (!handlers) {
      handlers = [];
      this.#handlers.set(channel, handlers);
    }
    handlers.push(handler);
    if (!fresh) return;
    if (this.#client.status === 'ready') {
      this.#client.subscribe(channel).then(
        () => handler.onResubscribed?.(),
        (err: unknown) => this.#logger.debug({ err, channel }, 'subscribe failed; retried on reconnect'),
      );
    }
  }

  close(): void {
    this.#closed = true;
    this.#handlers.clear();
  }

  async #subscribeAll(): Promise<void> {
    if (this.#closed || this.#handlers.size === 0) return;
    try {
      await this.#client.subscribe(...this.#handlers.keys());
    } catch (err) {
      this.#logger.debug({ err }, 'resubscribe failed; retried on reconnect');
      return;
    }
    for (const handlers of this.#handlers.values())
      for (const handler of handlers) handler.onResubscribed?.();
  }
}
