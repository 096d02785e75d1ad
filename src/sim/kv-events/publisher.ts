/**
 * The simulator's KV-event publisher, behaving like vLLM's `ZmqEventPublisher` on the wire (shared
 * reference `kv-events-and-hashing.md` §1.2–§1.4):
 *
 * - PUB socket with `sendHighWaterMark = hwm`, bound or connected by vLLM's heuristic
 *   ({@link shouldBindEndpoint}); endpoints are offset per data-parallel rank like vLLM's.
 * - every batch is one 3-frame message `[topic, seq (8-byte BE), msgpack payload]`, seq from 0.
 * - a ring of the last `bufferSteps` batches, served by an optional ROUTER replay socket (always
 *   bound). A request `[identity, "", start_seq]` is answered, per buffered batch with
 *   `seq >= start_seq`, by `[identity, "", topic, seq, payload]` and finally by the end marker
 *   `[identity, "", "", 0xFFFFFFFFFFFFFFFF, ""]` (the shape after vLLM PR #45177); any other
 *   request shape is ignored, as vLLM does.
 *
 * {@link KvEventPublisher.publish} never blocks the engine: it encodes, assigns the sequence
 * number, records the batch for replay and queues the message; one asynchronous send chain drains
 * the queue in order. A full queue drops the message (still in the replay ring, still consuming its
 * seq), which subscribers see as a gap — the same contract as ZeroMQ's HWM drop.
 */
import { Publisher, Router } from 'zeromq';
import { KvEventEncoder, type KvEventEncoderOptions } from '../../kv-protocol/event-encoder.ts';
import type { KvEventBatch } from '../../kv-protocol/events.ts';
import { encodeSequence, REPLAY_END_SEQ } from '../../kv-protocol/sequence.ts';
import { offsetEndpointForRank, shouldBindEndpoint } from './endpoint.ts';
import { ReplayRing } from './replay-ring.ts';

export interface KvEventPublisherOptions extends KvEventEncoderOptions {
  /** PUB endpoint; default `tcp://*:5557`. Use `tcp://127.0.0.1:*` for an ephemeral port. */
  readonly endpoint?: string;
  /** ROUTER endpoint for replay, or null (default) for none. */
  readonly replayEndpoint?: string | null;
  /** Replay ring size in batches; default 10 000. */
  readonly bufferSteps?: number;
  /** PUB send high-water mark in messages; default 100 000. */
  readonly hwm?: number;
  /** Bound of the in-process send queue in messages; default 100 000. */
  readonly maxQueueSize?: number;
  /** Frame 0, sent verbatim as UTF-8; default `""`. */
  readonly topic?: string;
  /** Filled into batches whose rank is null, and offsets the endpoints' ports; default 0. */
  readonly dataParallelRank?: number;
  /** Called when a send fails (the message is lost); default: ignore. */
  readonly onSendError?: (error: unknown) => void;
}

export interface KvEventPublisherStats {
  /** Batches given to `publish`/`publishPayload` (sequence numbers consumed). */
  readonly published: number;
  /** Messages handed to the PUB socket. */
  readonly sent: number;
  /** Batches dropped by `dropNextBatches`. */
  readonly droppedByFault: number;
  /** Batches dropped because the send queue was full. */
  readonly droppedQueueFull: number;
  readonly sendErrors: number;
  readonly replayRequests: number;
  /** Replay requests ignored for having the wrong number of frames. */
  readonly invalidReplayRequests: number;
  readonly replayedBatches: number;
}

export interface DropOptions {
  /** Keep dropped batches in the replay ring so a replay can recover them; default true. */
  readonly keepForReplay?: boolean;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const SHUTDOWN_TIMEOUT_MS = 1000;
const EMPTY = Buffer.alloc(0);

export class KvEventPublisher {
  readonly #pub: Publisher;
  readonly #router: Router | null;
  readonly #encoder: KvEventEncoder;
  readonly #ring: ReplayRing;
  readonly #topic: Buffer;
  readonly #rank: number;
  readonly #maxQueueSize: number;
  readonly #onSendError: (error: unknown) => void;
  readonly #endpoint: string;
  readonly #replayEndpoint: string | null;

  #seq = 0n;
  #closed = false;
  #dropRemaining = 0;
  #dropKeepForReplay = true;
  /** Pending messages from `#queueHead` on; consumed slots are cleared so payloads can be freed. */
  readonly #queue: ([Buffer, Buffer, Uint8Array] | undefined)[] = [];
  #queueHead = 0;
  #pump: Promise<void> | null = null;
  #replayLoop: Promise<void> | null = null;
  readonly #stats: Mutable<KvEventPublisherStats> = {
    published: 0,
    sent: 0,
    droppedByFault: 0,
    droppedQueueFull: 0,
    sendErrors: 0,
    replayRequests: 0,
    invalidReplayRequests: 0,
    replayedBatches: 0,
  };

  private constructor(
    pub: Publisher,
    router: Router | null,
    endpoint: string,
    replayEndpoint: string | null,
    options: KvEventPublisherOptions,
  ) {
    this.#pub = pub;
    this.#router = router;
    this.#endpoint = endpoint;
    this.#replayEndpoint = replayEndpoint;
    this.#encoder = new KvEventEncoder(options);
    this.#ring = new ReplayRing(options.bufferSteps ?? 10_000);
    this.#topic = Buffer.from(options.topic ?? '', 'utf8');
    this.#rank = options.dataParallelRank ?? 0;
    this.#maxQueueSize = options.maxQueueSize ?? 100_000;
    this.#onSendError = options.onSendError ?? (() => {});
    if (router) this.#replayLoop = this.#serveReplay(router);
  }

  /** Opens the sockets (binding is asynchronous) and returns a ready publisher. */
  static async open(options: KvEventPublisherOptions = {}): Promise<KvEventPublisher> {
    const rank = options.dataParallelRank ?? 0;
    const endpoint = offsetEndpointForRank(options.endpoint ?? 'tcp://*:5557', rank);
    const replayEndpoint =
      options.replayEndpoint == null ? null : offsetEndpointForRank(options.replayEndpoint, rank);

    const pub = new Publisher({ sendHighWaterMark: options.hwm ?? 100_000 });
    let router: Router | null = null;
    try {
      let boundEndpoint = endpoint;
      if (shouldBindEndpoint(endpoint)) {
        await pub.bind(endpoint);
        boundEndpoint = pub.lastEndpoint ?? endpoint;
      } else {
        pub.connect(endpoint);
      }
      let boundReplay: string | null = null;
      if (replayEndpoint !== null) {
        router = new Router();
        await router.bind(replayEndpoint);
        boundReplay = router.lastEndpoint ?? replayEndpoint;
      }
      return new KvEventPublisher(pub, router, boundEndpoint, boundReplay, options);
    } catch (err) {
      closeNow(pub);
      if (router) closeNow(router);
      throw err;
    }
  }

  /** The PUB endpoint; for a bound wildcard port, the resolved one (e.g. `tcp://127.0.0.1:41234`). */
  get endpoint(): string {
    return this.#endpoint;
  }

  /** The bound replay endpoint, or null. */
  get replayEndpoint(): string | null {
    return this.#replayEndpoint;
  }

  /** The sequence number the next batch will get. */
  get nextSequence(): bigint {
    return this.#seq;
  }

  get stats(): KvEventPublisherStats {
    return { ...this.#stats };
  }

  /**
   * Encodes and queues a batch; returns its sequence number. A null `dataParallelRank` is filled with
   * the publisher's rank, as vLLM does.
   */
  publish(batch: KvEventBatch): bigint {
    this.#assertOpen();
    const filled = batch.dataParallelRank === null ? { ...batch, dataParallelRank: this.#rank } : batch;
    return this.publishPayload(this.#encoder.encode(filled));
  }

  /** Queues an already-encoded payload (e.g. a deliberately malformed one); returns its sequence number. */
  publishPayload(payload: Uint8Array): bigint {
    this.#assertOpen();
    const seq = this.#seq++;
    this.#stats.published++;
    if (this.#dropRemaining > 0) {
      this.#dropRemaining--;
      this.#stats.droppedByFault++;
      if (this.#dropKeepForReplay) this.#ring.push(seq, payload);
      return seq;
    }
    this.#ring.push(seq, payload);
    if (this.#queue.length - this.#queueHead >= this.#maxQueueSize) {
      this.#stats.droppedQueueFull++;
      return seq;
    }
    this.#queue.push([this.#topic, encodeSequence(seq), payload]);
    this.#pump ??= this.#drain();
    return seq;
  }

  /**
   * Fault hook: silently drops the next `count` batches while still consuming their sequence
   * numbers, so subscribers observe a gap (as after an HWM overflow). Replaces any pending count.
   */
  dropNextBatches(count: number, options: DropOptions = {}): void {
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`invalid drop count ${count}`);
    this.#dropRemaining = count;
    this.#dropKeepForReplay = options.keepForReplay ?? true;
  }

  /**
   * Fault hook with vLLM-restart semantics: the next batch gets sequence 0 and the replay ring is
   * emptied. Messages already queued still go out first.
   */
  resetSequence(): void {
    this.#seq = 0n;
    this.#ring.clear();
  }

  /** Resolves once every queued message has been handed to the socket. */
  async flush(): Promise<void> {
    while (this.#pump) await this.#pump;
  }

  /**
   * Waits up to 1 s for queued messages (vLLM's `SHUTDOWN_TIMEOUT`), then closes both sockets with
   * linger 0. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.flush(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, SHUTDOWN_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    closeNow(this.#pub);
    if (this.#router) closeNow(this.#router);
    await this.#replayLoop;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queueHead < this.#queue.length) {
        const message = this.#queue[this.#queueHead]!;
        this.#queue[this.#queueHead++] = undefined;
        if (this.#queueHead >= 1024 && this.#queueHead * 2 >= this.#queue.length) {
          this.#queue.splice(0, this.#queueHead);
          this.#queueHead = 0;
        }
        if (this.#pub.closed) break;
        try {
          await this.#pub.send(message);
          this.#stats.sent++;
        } catch (err) {
          this.#stats.sendErrors++;
          this.#onSendError(err);
        }
      }
    } finally {
      this.#queue.length = 0;
      this.#queueHead = 0;
      this.#pump = null;
    }
  }

  async #serveReplay(router: Router): Promise<void> {
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await router.receive();
      } catch {
        return; // socket closed
      }
      this.#stats.replayRequests++;
      const [identity, delimiter, startFrame] = frames;
      if (frames.length !== 3 || !identity || !delimiter || !startFrame) {
        this.#stats.invalidReplayRequests++;
        continue;
      }
      const start = readUnsignedBigEndian(startFrame);
      try {
        for (const entry of this.#ring.since(start)) {
          await router.send([identity, EMPTY, this.#topic, encodeSequence(entry.seq), entry.payload]);
          this.#stats.replayedBatches++;
        }
        await router.send([identity, EMPTY, EMPTY, encodeSequence(REPLAY_END_SEQ), EMPTY]);
      } catch {
        if (router.closed) return;
      }
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('KV event publisher is closed');
  }
}

/** `int.from_bytes(frame, "big")`, as vLLM parses the replay start (any length). */
function readUnsignedBigEndian(frame: Uint8Array): bigint {
  let value = 0n;
  for (const byte of frame) value = (value << 8n) | BigInt(byte);
  return value;
}

function closeNow(socket: Publisher | Router): void {
  if (socket.closed) return;
  socket.linger = 0;
  socket.close();
}
