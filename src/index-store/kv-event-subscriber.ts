/**
 * Receives vLLM KV events over ZeroMQ and feeds them, in order per publisher, to the ingestor
 * (shared reference `kv-events-and-hashing.md` §1 and the "Transport" checklist of §6).
 *
 * Two modes, usable together:
 * - dial ({@link KvEventSubscriber.addPod}): one SUB socket per pod (per data-parallel rank),
 *   connected to the pod's PUB endpoint (vLLM binds `tcp://*:5557`). The pod identity is the one
 *   given to `addPod`; the topic's pod segment is ignored, its model used only when `addPod` gave
 *   none.
 * - bind ({@link KvEventSubscriber.listen}): one SUB socket bound on a central endpoint that vLLM pods
 *   connect to (`endpoint: tcp://<router>:5557`); pods are identified by the `kv@<pod>@<model>` topic.
 *
 * Each message must have 3 frames and a sequence frame of at least 8 bytes; anything else is counted
 * and dropped, as are undecodable payloads. Sequence handling per publisher:
 * - gap → replay the missing batches from the pod's replay socket when it has one (applied in order,
 *   duplicates dropped); without one, or if the replay fails or has a hole, the pod is cleared and
 *   resynchronises from new events;
 * - restart (sequence went back) → the pod is cleared, then caught up from the replay socket;
 * - duplicate → dropped;
 * - first message after connecting with a sequence > 0 → catch-up replay from 0 when a replay socket
 *   is configured (llm-d does the same), since the pod's cache predates our connection.
 * ZeroMQ reconnects by itself; a reconnect that lost messages shows up as a gap. A gap or restart
 * clears the whole pod, every rank included (as llm-d does).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Subscriber } from 'zeromq';
import { decodeEventBatch } from '../kv-protocol/event-decoder.ts';
import { decodeSequence } from '../kv-protocol/sequence.ts';
import { parseKvTopic } from '../kv-protocol/topic.ts';
import type { BlockIndex } from './block-index.ts';
import { KvEventIngestor } from './kv-event-ingestor.ts';
import { replayFrom, type ReplayTimeouts } from './replay-client.ts';
import { SequenceTracker } from './sequence-tracker.ts';

export interface KvEventSubscriberOptions {
  readonly index: BlockIndex;
  /** Default: a new ingestor over `index`. */
  readonly ingestor?: KvEventIngestor;
  /** Subscription prefix of bound (central) sockets. Default `"kv@"`. Dialled sockets take every topic. */
  readonly topicFilter?: string;
  /** Replay socket of a pod seen on a bound socket, by the topic's pod id. Default: none. */
  readonly replayEndpointFor?: (podId: string) => string | null;
  readonly replayTimeouts?: ReplayTimeouts;
  /** ZeroMQ reconnect interval for dialled sockets. Default 1000 ms. */
  readonly reconnectIntervalMs?: number;
  /** SUB receive high-water mark, in messages. Default 100 000 (vLLM's PUB default). */
  readonly receiveHighWaterMark?: number;
  /** Called for unexpected errors (index or socket failures); they are counted either way. */
  readonly onError?: (error: unknown, podId: string | null) => void;
}

export interface SubscriberCounters {
  messages: number;
  batchesApplied: number;
  /** Messages without exactly 3 frames. */
  malformedFrames: number;
  /** Sequence frames shorter than 8 bytes. */
  badSequence: number;
  /** Payloads that are not a KV-event batch. */
  decodeErrors: number;
  /** Events the decoder skipped inside otherwise valid batches (unknown tag, bad fields). */
  eventsSkippedByDecoder: number;
  duplicates: number;
  gaps: number;
  restarts: number;
  /** Times a pod was cleared to resynchronise after a gap, restart or failed replay. */
  resyncs: number;
  replaysRequested: number;
  replaysFailed: number;
  replayedBatches: number;
  /** Bound-socket messages whose topic is not `kv@<pod>@<model>`. */
  unknownTopics: number;
  applyErrors: number;
  socketErrors: number;
}

/** What the subscriber knows about one pod's event stream. */
export interface PodStreamStatus {
  readonly podId: string;
  /** The dialled endpoint, or the topic seen on a bound socket. */
  readonly source: string;
  readonly model: string;
  readonly lastSequence: bigint | null;
  readonly batchesApplied: number;
  readonly gaps: number;
  readonly resyncs: number;
}

interface Stream {
  readonly podId: string;
  readonly source: string;
  model: string;
  readonly replayEndpoint: string | null;
  readonly tracker: SequenceTracker;
  readonly abort: AbortController;
  batchesApplied: number;
  gaps: number;
  resyncs: number;
}

interface DialledPod {
  readonly endpoint: string;
  readonly stream: Stream;
  readonly socket: Subscriber;
  readonly loop: Promise<void>;
}

interface BoundSocket {
  readonly socket: Subscriber;
  readonly streams: Map<string, Stream>;
  readonly loop: Promise<void>;
}

export class KvEventSubscriber {
  readonly ingestor: KvEventIngestor;
  readonly counters: SubscriberCounters = {
    messages: 0,
    batchesApplied: 0,
    malformedFrames: 0,
    badSequence: 0,
    decodeErrors: 0,
    eventsSkippedByDecoder: 0,
    duplicates: 0,
    gaps: 0,
    restarts: 0,
    resyncs: 0,
    replaysRequested: 0,
    replaysFailed: 0,
    replayedBatches: 0,
    unknownTopics: 0,
    applyErrors: 0,
    socketErrors: 0,
  };
  readonly #index: BlockIndex;
  readonly #options: KvEventSubscriberOptions;
  /** Dialled connections by pod: one per endpoint (several for a pod running data-parallel ranks). */
  readonly #pods = new Map<string, DialledPod[]>();
  readonly #bound: BoundSocket[] = [];
  #closed = false;

  constructor(options: KvEventSubscriberOptions) {
    this.#options = options;
    this.#index = options.index;
    this.ingestor = options.ingestor ?? new KvEventIngestor(options.index);
  }

  /**
   * Dials a pod's KV-event PUB endpoint (dial mode). A pod running several data-parallel ranks has
   * one publisher per rank (port + rank): call once per rank with the same `podId`; each connection
   * keeps its own sequence, and all feed the pod's entries.
   *
   * @param replayEndpoint this publisher's replay ROUTER, or null/undefined for none.
   * @param model the pod's served model, root of its block keys; empty = take it from the topic.
   * @throws {Error} if this pod already has a subscription to `endpoint`.
   */
  addPod(podId: string, endpoint: string, replayEndpoint: string | null | undefined, model: string): void {
    this.#assertOpen();
    const connections = this.#pods.get(podId) ?? [];
    if (connections.some((c) => c.endpoint === endpoint)) {
      throw new Error(`pod ${podId} is already subscribed to ${endpoint}`);
    }
    const socket = new Subscriber({
      linger: 0,
      receiveHighWaterMark: this.#options.receiveHighWaterMark ?? 100_000,
      reconnectInterval: this.#options.reconnectIntervalMs ?? 1000,
    });
    socket.subscribe();
    socket.connect(endpoint);
    const stream = newStream(podId, endpoint, model, replayEndpoint ?? null);
    const loop = this.#receive(socket, (frames) => this.#onDialled(stream, frames), podId);
    connections.push({ endpoint, stream, socket, loop });
    this.#pods.set(podId, connections);
  }

  /**
   * Stops receiving from a pod and removes it from the index (its entries with it). Waits for a
   * batch being applied to finish, so nothing of the pod is written after this resolves.
   */
  async removePod(podId: string): Promise<void> {
    const connections = this.#pods.get(podId) ?? [];
    this.#pods.delete(podId);
    for (const c of connections) {
      c.stream.abort.abort();
      c.socket.close();
    }
    await Promise.all(connections.map((c) => c.loop));
    for (const bound of this.#bound) {
      for (const [topic, stream] of bound.streams) {
        if (stream.podId === podId) bound.streams.delete(topic);
      }
    }
    this.ingestor.forgetPod(podId);
    await this.#index.removePod(podId);
  }

  /**
   * Binds a central endpoint that pods connect to (bind mode); resolves with the bound endpoint
   * (useful with a wildcard port, e.g. `tcp://127.0.0.1:*`). Sequences are tracked per topic on
   * each bound socket; vLLM offsets a connect endpoint's port by the data-parallel rank, so listen
   * once per rank port.
   */
  async listen(endpoint: string): Promise<string> {
    this.#assertOpen();
    const socket = new Subscriber({
      linger: 0,
      receiveHighWaterMark: this.#options.receiveHighWaterMark ?? 100_000,
    });
    socket.subscribe(this.#options.topicFilter ?? 'kv@');
    await socket.bind(endpoint);
    const streams = new Map<string, Stream>();
    const loop = this.#receive(socket, (frames) => this.#onBound(streams, frames), null);
    this.#bound.push({ socket, streams, loop });
    return socket.lastEndpoint ?? endpoint;
  }

  /** Pods with a stream, dialled or seen on a bound socket. */
  status(): PodStreamStatus[] {
    const out: PodStreamStatus[] = [];
    for (const connections of this.#pods.values())
      for (const { stream } of connections) out.push(statusOf(stream));
    for (const bound of this.#bound) for (const stream of bound.streams.values()) out.push(statusOf(stream));
    return out;
  }

  /** Closes every socket; the index keeps its contents. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const loops: Promise<void>[] = [];
    for (const c of [...this.#pods.values()].flat()) {
      c.stream.abort.abort();
      c.socket.close();
      loops.push(c.loop);
    }
    for (const bound of this.#bound) {
      for (const stream of bound.streams.values()) stream.abort.abort();
      bound.socket.close();
      loops.push(bound.loop);
    }
    this.#pods.clear();
    this.#bound.length = 0;
    await Promise.all(loops);
  }

  async #receive(
    socket: Subscriber,
    handle: (frames: Buffer[]) => Promise<void>,
    podId: string | null,
  ): Promise<void> {
    while (!socket.closed) {
      try {
        for await (const frames of socket) await handle(frames);
      } catch (err) {
        if (socket.closed) return;
        this.counters.socketErrors++;
        this.#options.onError?.(err, podId);
        await delay(100); // do not spin on a persistent socket error
      }
    }
  }

  async #onDialled(stream: Stream, frames: Buffer[]): Promise<void> {
    if (stream.abort.signal.aborted) return;
    this.counters.messages++;
    if (frames.length !== 3) {
      this.counters.malformedFrames++;
      return;
    }
    if (!stream.model) stream.model = parseKvTopic(frames[0]!.toString('utf8'))?.model ?? '';
    await this.#onMessage(stream, frames[1]!, frames[2]!);
  }

  async #onBound(streams: Map<string, Stream>, frames: Buffer[]): Promise<void> {
    this.counters.messages++;
    if (frames.length !== 3) {
      this.counters.malformedFrames++;
      return;
    }
    const topic = frames[0]!.toString('utf8');
    let stream = streams.get(topic);
    if (!stream) {
      const parsed = parseKvTopic(topic);
      if (!parsed) {
        this.counters.unknownTopics++;
        return;
      }
      stream = newStream(
        parsed.pod,
        topic,
        parsed.model,
        this.#options.replayEndpointFor?.(parsed.pod) ?? null,
      );
      streams.set(topic, stream);
    }
    if (stream.abort.signal.aborted) return;
    await this.#onMessage(stream, frames[1]!, frames[2]!);
  }

  async #onMessage(stream: Stream, seqFrame: Buffer, payload: Buffer): Promise<void> {
    const seq = decodeSequence(seqFrame);
    if (seq === null) {
      this.counters.badSequence++;
      return;
    }
    switch (stream.tracker.classify(seq)) {
      case 'duplicate':
        this.counters.duplicates++;
        return;
      case 'next':
        break;
      case 'first':
        if (stream.replayEndpoint !== null && seq > 0n) await this.#catchUp(stream, seq);
        break;
      case 'gap':
        this.counters.gaps++;
        stream.gaps++;
        await this.#recoverGap(stream, seq);
        break;
      case 'restart':
        this.counters.restarts++;
        await this.#resync(stream);
        stream.tracker.reset();
        if (stream.replayEndpoint !== null && seq > 0n) await this.#catchUp(stream, seq);
        break;
    }
    if (stream.abort.signal.aborted) return;
    stream.tracker.accept(seq);
    await this.#apply(stream, payload);
  }

  /** Replays the batches after the last applied one and before `seq`; resyncs if that fails. */
  async #recoverGap(stream: Stream, seq: bigint): Promise<void> {
    if (stream.replayEndpoint !== null && (await this.#replay(stream, stream.tracker.last! + 1n, seq, true)))
      return;
    await this.#resync(stream);
  }

  /** Applies whatever the replay socket still holds from 0 up to `seq` (the pod's earlier history). */
  async #catchUp(stream: Stream, seq: bigint): Promise<void> {
    if (!(await this.#replay(stream, 0n, seq, false))) await this.#resync(stream);
  }

  /**
   * Applies replayed batches with sequence in [from, until), in order, dropping ones already applied.
   * With `contiguous`, the first batch must be `from` (a gap being filled); otherwise it may start
   * later (the ring no longer holds the oldest). Returns false on failure or a hole.
   */
  async #replay(stream: Stream, from: bigint, until: bigint, contiguous: boolean): Promise<boolean> {
    this.counters.replaysRequested++;
    let expected = from;
    let first = true;
    try {
      for await (const batch of replayFrom(
        stream.replayEndpoint!,
        from,
        this.#options.replayTimeouts,
        stream.abort.signal,
      )) {
        if (batch.seq >= until) break;
        if (batch.seq < expected) continue;
        if (batch.seq > expected && (contiguous || !first)) break;
        first = false;
        stream.tracker.accept(batch.seq);
        await this.#apply(stream, batch.payload);
        this.counters.replayedBatches++;
        expected = batch.seq + 1n;
      }
    } catch (err) {
      if (!stream.abort.signal.aborted) this.#options.onError?.(err, stream.podId);
      this.counters.replaysFailed++;
      return false;
    }
    if (expected !== until) {
      this.counters.replaysFailed++;
      return false;
    }
    return true;
  }

  async #resync(stream: Stream): Promise<void> {
    this.counters.resyncs++;
    stream.resyncs++;
    try {
      await this.#index.clearPod(stream.podId);
    } catch (err) {
      this.counters.applyErrors++;
      this.#options.onError?.(err, stream.podId);
    }
  }

  async #apply(stream: Stream, payload: Uint8Array): Promise<void> {
    let batch;
    try {
      batch = decodeEventBatch(payload);
    } catch {
      this.counters.decodeErrors++;
      return;
    }
    this.counters.eventsSkippedByDecoder += batch.skippedUnknown + batch.skippedMalformed;
    try {
      await this.ingestor.applyBatch(stream.podId, stream.model, batch.events);
      this.counters.batchesApplied++;
      stream.batchesApplied++;
    } catch (err) {
      this.counters.applyErrors++;
      this.#options.onError?.(err, stream.podId);
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('KV event subscriber is closed');
  }
}

function newStream(podId: string, source: string, model: string, replayEndpoint: string | null): Stream {
  return {
    podId,
    source,
    model,
    replayEndpoint,
    tracker: new SequenceTracker(),
    abort: new AbortController(),
    batchesApplied: 0,
    gaps: 0,
    resyncs: 0,
  };
}

function statusOf(stream: Stream): PodStreamStatus {
  return {
    podId: stream.podId,
    source: stream.source,
    model: stream.model,
    lastSequence: stream.tracker.last,
    batchesApplied: stream.batchesApplied,
    gaps: stream.gaps,
    resyncs: stream.resyncs,
  };
}
