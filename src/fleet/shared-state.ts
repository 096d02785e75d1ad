/**
 * Fleet state shared by every router thread.
 *
 * The router serves one port from several acceptor threads (worker_threads). Each dispatch must
 * see the load that the other threads just added, or a burst spread over threads piles onto
 * one endpoint. So endpoint metrics and in-flight counters live in a SharedArrayBuffer
 * (layout and concurrency rules: `shared-layout.ts`):
 *
 * - One **owner** (the main thread, which runs discovery and scraping) allocates slots and writes
 *   metrics and health. `SharedFleetState.create(capacity)`.
 * - **Readers** (acceptor threads) attach to the buffer: `SharedFleetState.attach(buffer)`, take
 *   `snapshot()`s per request, and count in-flight work with `acquireInflight` /
 *   `releaseInflight`. The owner can do all of that too.
 *
 * Strings (endpoint id, host, labels, models, LoRA names) cannot live in the buffer. The owner
 * publishes them on a BroadcastChannel, keyed by slot index and generation; a reader lists a
 * slot only once it holds the identity for the slot's current generation. A reader that attaches
 * late asks the owner for a full copy, so `await state.ready()` before the first snapshot.
 */
import { randomBytes } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import { routerClock, type RouterClock } from './router-clock.ts';
import {
  HEADER,
  LAYOUT_MAGIC,
  LAYOUT_VERSION,
  addTagged,
  bufferBytes,
  counterIndex,
  emptyRecord,
  generationTag,
  readGeneration,
  readRecord,
  readSeq,
  readTaggedCount,
  writeRecord,
  type SlotRecord,
} from './shared-layout.ts';
import type {
  EndpointInfo,
  EndpointInflight,
  EndpointMetrics,
  EndpointSnapshot,
  FleetView,
} from './types.ts';

/** Default slot-table capacity. */
export const DEFAULT_FLEET_CAPACITY = 1024;

/**
 * Names one endpoint's tenure of one slot. Every allocation gets a new generation, so a ref kept
 * past the endpoint's removal stops working instead of hitting the slot's next occupant.
 */
export interface EndpointSlotRef {
  readonly slot: number;
  readonly generation: number;
}

/** String-valued endpoint data, published on the channel. */
interface SlotIdentity {
  readonly slot: number;
  readonly generation: number;
  readonly info: EndpointInfo;
  readonly servedModels: readonly string[];
  readonly activeLoras: readonly string[];
  readonly waitingLoras: readonly string[];
}

type ChannelMessage =
  | ({ readonly type: 'slot' } & SlotIdentity)
  | { readonly type: 'free'; readonly slot: number; readonly generation: number }
  | { readonly type: 'sync-request' }
  | { readonly type: 'sync'; readonly slots: readonly SlotIdentity[] };

/** Per-slot memo so unchanged metrics are not re-allocated on every snapshot. */
interface MetricsMemo {
  seq: number;
  identity: SlotIdentity;
  metrics: EndpointMetrics | null;
  healthy: boolean;
}

export interface SharedFleetStateOptions {
  readonly clock?: RouterClock;
}

const EMPTY: readonly string[] = Object.freeze([]);

export class SharedFleetState {
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  readonly isOwner: boolean;
  readonly #words: Int32Array;
  readonly #counters: BigUint64Array;
  readonly #channel: BroadcastChannel;
  readonly #clock: RouterClock;
  /** Identity per slot, as this thread knows it. */
  readonly #identities: Array<SlotIdentity | undefined>;
  readonly #byId = new Map<string, SlotIdentity>();
  readonly #memos: Array<MetricsMemo | undefined>;
  readonly #scratch: SlotRecord = emptyRecord();
  readonly #ready: Promise<void>;
  #resolveReady: (() => void) | undefined;
  #closed = false;
  // Owner only.
  readonly #freeSlots: number[] = [];
  #highWater = 0;

  /**
   * Creates the table on the owner thread.
   *
   * @param capacity maximum number of endpoints at once (removed endpoints free their slot).
   */
  static create(
    capacity: number = DEFAULT_FLEET_CAPACITY,
    options: SharedFleetStateOptions = {},
  ): SharedFleetState {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 20) {
      throw new RangeError(`fleet capacity must be an integer in 1..${1 << 20}, got ${capacity}`);
    }
    const buffer = new SharedArrayBuffer(bufferBytes(capacity));
    const words = new Int32Array(buffer);
    words[HEADER.magic] = LAYOUT_MAGIC;
    words[HEADER.version] = LAYOUT_VERSION;
    words[HEADER.capacity] = capacity;
    const id = randomBytes(16);
    for (let i = 0; i < 4; i++) words[HEADER.instanceId + i] = id.readInt32LE(i * 4);
    return new SharedFleetState(buffer, true, options);
  }

  /**
   * Attaches to a table created by `create()` on another thread (pass `state.buffer` in
   * `workerData`). Await {@link ready} before the first snapshot.
   *
   * @throws {Error} if the buffer is not a fleet table of this layout version.
   */
  static attach(buffer: SharedArrayBuffer, options: SharedFleetStateOptions = {}): SharedFleetState {
    const words = new Int32Array(buffer, 0, 16);
    if (words[HEADER.magic] !== LAYOUT_MAGIC) throw new Error('not a kvedge shared fleet buffer');
    if (words[HEADER.version] !== LAYOUT_VERSION) {
      throw new Error(
        `shared fleet buffer has layout version ${words[HEADER.version]}, expected ${LAYOUT_VERSION}`,
      );
    }
    return new SharedFleetState(buffer, false, options);
  }

  private constructor(buffer: SharedArrayBuffer, isOwner: boolean, options: SharedFleetStateOptions) {
    this.buffer = buffer;
    this.isOwner = isOwner;
    this.#words = new Int32Array(buffer);
    this.#counters = new BigUint64Array(buffer);
    this.capacity = this.#words[HEADER.capacity] as number;
    this.#clock = options.clock ?? routerClock;
    this.#identities = new Array<SlotIdentity | undefined>(this.capacity);
    this.#memos = new Array<MetricsMemo | undefined>(this.capacity);
    this.#channel = new BroadcastChannel(channelName(this.#words));
    this.#channel.onmessage = (event) => this.#onMessage(event.data as ChannelMessage);
    if (isOwner) {
      // The channel alone must not keep a process alive; a reader's stays referenced until its
      // first sync arrives, so a thread awaiting `ready()` is not torn down with it pending.
      this.#channel.unref();
      this.#ready = Promise.resolve();
    } else {
      this.#ready = new Promise((resolve) => {
        this.#resolveReady = resolve;
      });
      this.#channel.postMessage({ type: 'sync-request' } satisfies ChannelMessage);
    }
  }

  /** Resolves once this thread holds the identities of every endpoint (immediately on the owner). */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** Stops receiving identity updates. The buffer stays usable by other threads. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#channel.close();
  }

  /** Number of endpoints this thread knows about. */
  get size(): number {
    return this.#byId.size;
  }

  // ---- owner API ------------------------------------------------------------------------

  /**
   * Gives an endpoint a slot. Its in-flight counters start at zero and it is unhealthy, with no
   * metrics, until {@link publishStatus}.
   *
   * @throws {Error} if the id is already present or the table is full.
   */
  addEndpoint(info: EndpointInfo, servedModels: readonly string[] = info.models): EndpointSlotRef {
    this.#assertOwner();
    if (this.#byId.has(info.id)) throw new Error(`endpoint ${info.id} is already in the shared fleet table`);
    // Reuse the longest-free slot first: the further a generation is in the past, the less any
    // straggling ref to it matters.
    let slot = this.#freeSlots.shift();
    if (slot === undefined) {
      if (this.#highWater >= this.capacity) {
        throw new Error(`shared fleet table is full (${this.capacity} endpoints); raise the capacity`);
      }
      slot = this.#highWater++;
    }
    const generation = (readGeneration(this.#words, slot) + 1) | 0;
    this.#resetCounters(slot, generation);
    writeRecord(this.#words, slot, { ...emptyRecord(), generation });
    Atomics.store(this.#words, HEADER.highWater, this.#highWater);
    this.#publish({
      type: 'slot',
      slot,
      generation,
      info,
      servedModels: [...servedModels],
      activeLoras: EMPTY,
      waitingLoras: EMPTY,
    });
    return { slot, generation };
  }

  /** Frees an endpoint's slot; its refs stop working. Returns false if the id is unknown. */
  removeEndpoint(id: string): boolean {
    this.#assertOwner();
    const identity = this.#byId.get(id);
    if (identity === undefined) return false;
    const { slot } = identity;
    const generation = (identity.generation + 1) | 0;
    writeRecord(this.#words, slot, { ...emptyRecord(), generation });
    this.#resetCounters(slot, generation);
    this.#freeSlots.push(slot);
    this.#publish({ type: 'free', slot, generation: identity.generation });
    return true;
  }

  /** Replaces an endpoint's description (same id: labels, models, KV endpoints changed). */
  updateEndpointInfo(info: EndpointInfo): void {
    const identity = this.#ownedIdentity(info.id);
    this.#publish({ type: 'slot', ...identity, info });
  }

  /** Sets the models an endpoint serves (from `/v1/models`). */
  setServedModels(id: string, servedModels: readonly string[]): void {
    const identity = this.#ownedIdentity(id);
    if (sameList(identity.servedModels, servedModels)) return;
    this.#publish({ type: 'slot', ...identity, servedModels: [...servedModels] });
  }

  /** Publishes an endpoint's health and latest metrics. */
  publishStatus(id: string, healthy: boolean, metrics: EndpointMetrics | null): void {
    const identity = this.#ownedIdentity(id);
    writeRecord(this.#words, identity.slot, {
      generation: identity.generation,
      healthy,
      hasMetrics: metrics !== null,
      waiting: metrics?.waitingQueueSize ?? 0,
      running: metrics?.runningRequestsSize ?? 0,
      kvMicros: (metrics?.kvCacheUsagePercent ?? 0) * 1e6,
      blockSize: metrics?.blockSize ?? null,
      numBlocks: metrics?.numGpuBlocks ?? null,
      maxLoras: metrics?.maxActiveLoras ?? null,
      updatedAtMs: metrics?.updatedAtMs ?? 0,
    });
    const activeLoras = metrics?.activeLoras ?? EMPTY;
    const waitingLoras = metrics?.waitingLoras ?? EMPTY;
    if (!sameList(identity.activeLoras, activeLoras) || !sameList(identity.waitingLoras, waitingLoras)) {
      this.#publish({
        type: 'slot',
        ...identity,
        activeLoras: [...activeLoras],
        waitingLoras: [...waitingLoras],
      });
    }
  }

  // ---- any thread -----------------------------------------------------------------------

  /** The current slot ref of an endpoint, as far as this thread knows. */
  refOf(id: string): EndpointSlotRef | undefined {
    const identity = this.#byId.get(id);
    return identity === undefined ? undefined : { slot: identity.slot, generation: identity.generation };
  }

  /**
   * Counts a dispatched request (and its expected prompt + decode tokens) against an endpoint.
   * Returns false, counting nothing, when the ref is stale (the endpoint was removed).
   */
  acquireInflight(ref: EndpointSlotRef, tokens: number): boolean {
    const index = this.#counterIndexOf(ref);
    const tag = generationTag(ref.generation);
    if (!addTagged(this.#counters, index, tag, 1n)) return false;
    if (!addTagged(this.#counters, index + 1, tag, toTokens(tokens))) {
      addTagged(this.#counters, index, tag, -1n);
      return false;
    }
    return true;
  }

  /**
   * Uncounts a finished request; pass the same ref and tokens as to {@link acquireInflight}.
   * Returns false, touching nothing, when the ref is stale.
   */
  releaseInflight(ref: EndpointSlotRef, tokens: number): boolean {
    const index = this.#counterIndexOf(ref);
    const tag = generationTag(ref.generation);
    const released = addTagged(this.#counters, index, tag, -1n);
    const tokensReleased = addTagged(this.#counters, index + 1, tag, -toTokens(tokens));
    return released && tokensReleased;
  }

  /** In-flight totals of an endpoint across all threads; undefined when the ref is stale. */
  inflightOf(ref: EndpointSlotRef): EndpointInflight | undefined {
    const index = this.#counterIndexOf(ref);
    return readInflight(this.#words, index, ref.generation) ?? undefined;
  }

  /**
   * A view of the fleet: health, metrics and in-flight load of every endpoint whose identity
   * this thread holds, in slot order. Each endpoint's record is internally consistent (seqlock);
   * different endpoints may be a few microseconds apart. Cheap enough to call per request:
   * unchanged metrics objects are reused between calls.
   */
  snapshot(nowMs: number = this.#clock()): FleetView {
    const highWater = Atomics.load(this.#words, HEADER.highWater);
    const endpoints: EndpointSnapshot[] = [];
    const record = this.#scratch;
    for (let slot = 0; slot < highWater; slot++) {
      const identity = this.#identities[slot];
      if (identity === undefined) continue;
      let memo = this.#memos[slot];
      if (memo === undefined || memo.seq !== readSeq(this.#words, slot) || memo.identity !== identity) {
        const seq = readRecord(this.#words, slot, record);
        if (record.generation !== identity.generation) continue;
        memo = { seq, identity, metrics: toMetrics(record, identity), healthy: record.healthy };
        this.#memos[slot] = memo;
      }
      const inflight = readInflight(this.#words, counterIndex(slot), identity.generation);
      if (inflight === null) continue;
      endpoints.push({
        info: identity.info,
        healthy: memo.healthy,
        metrics: memo.metrics,
        inflight,
        servedModels: identity.servedModels,
      });
    }
    return { endpoints, nowMs };
  }

  // ---- internals ------------------------------------------------------------------------

  #counterIndexOf(ref: EndpointSlotRef): number {
    if (!Number.isInteger(ref.slot) || ref.slot < 0 || ref.slot >= this.capacity) {
      throw new RangeError(`slot ${ref.slot} outside the fleet table (capacity ${this.capacity})`);
    }
    return counterIndex(ref.slot);
  }

  #resetCounters(slot: number, generation: number): void {
    const index = counterIndex(slot);
    const tag = generationTag(generation);
    Atomics.store(this.#counters, index, tag);
    Atomics.store(this.#counters, index + 1, tag);
  }

  #assertOwner(): void {
    if (!this.isOwner) throw new Error('only the owner thread may change the shared fleet table');
  }

  #ownedIdentity(id: string): SlotIdentity {
    this.#assertOwner();
    const identity = this.#byId.get(id);
    if (identity === undefined) throw new Error(`endpoint ${id} is not in the shared fleet table`);
    return identity;
  }

  /** Applies a message locally, then broadcasts it (BroadcastChannel skips the sender). */
  #publish(message: ChannelMessage): void {
    this.#apply(message);
    if (!this.#closed) this.#channel.postMessage(message);
  }

  #onMessage(message: ChannelMessage): void {
    if (message.type === 'sync-request') {
      if (this.isOwner && !this.#closed) {
        const slots = this.#identities.filter((identity): identity is SlotIdentity => identity !== undefined);
        this.#channel.postMessage({ type: 'sync', slots } satisfies ChannelMessage);
      }
      return;
    }
    if (this.isOwner) return;
    this.#apply(message);
    if (message.type === 'sync' && this.#resolveReady !== undefined) {
      this.#channel.unref();
      this.#resolveReady();
      this.#resolveReady = undefined;
    }
  }

  #apply(message: ChannelMessage): void {
    switch (message.type) {
      case 'slot': {
        const { type: _type, ...identity } = message;
        this.#setIdentity(identity);
        break;
      }
      case 'free': {
        const current = this.#identities[message.slot];
        if (current !== undefined && current.generation === message.generation) this.#clearIdentity(current);
        break;
      }
      case 'sync': {
        // A full copy: slots it does not list are free.
        const listed = new Set<number>();
        for (const identity of message.slots) {
          listed.add(identity.slot);
          this.#setIdentity(identity);
        }
        for (const identity of this.#identities) {
          if (identity !== undefined && !listed.has(identity.slot)) this.#clearIdentity(identity);
        }
        break;
      }
      case 'sync-request':
        break;
    }
  }

  #setIdentity(identity: SlotIdentity): void {
    const current = this.#identities[identity.slot];
    // Messages arrive in order from one owner, but a sync copy can lag a direct update.
    if (current !== undefined && generationBefore(identity.generation, current.generation)) return;
    if (current !== undefined && current.info.id !== identity.info.id) this.#byId.delete(current.info.id);
    const stale = this.#byId.get(identity.info.id);
    if (stale !== undefined && stale.slot !== identity.slot) this.#identities[stale.slot] = undefined;
    this.#identities[identity.slot] = identity;
    this.#byId.set(identity.info.id, identity);
  }

  #clearIdentity(identity: SlotIdentity): void {
    this.#identities[identity.slot] = undefined;
    this.#memos[identity.slot] = undefined;
    if (this.#byId.get(identity.info.id) === identity) this.#byId.delete(identity.info.id);
  }
}

function channelName(words: Int32Array): string {
  let hex = '';
  for (let i = 0; i < 4; i++)
    hex += ((words[HEADER.instanceId + i] as number) >>> 0).toString(16).padStart(8, '0');
  return `kvedge-fleet-${hex}`;
}

/** True if generation `a` precedes `b` (wrap-around safe, as for sequence numbers). */
function generationBefore(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

function readInflight(words: Int32Array, index64: number, generation: number): EndpointInflight | null {
  const requests = readTaggedCount(words, index64, generation);
  const tokens = readTaggedCount(words, index64 + 1, generation);
  if (requests < 0 || tokens < 0) return null;
  return { requests, tokens };
}

function toTokens(tokens: number): bigint {
  if (!Number.isFinite(tokens) || tokens <= 0) return 0n;
  return BigInt(Math.round(tokens));
}

function toMetrics(record: SlotRecord, identity: SlotIdentity): EndpointMetrics | null {
  if (!record.hasMetrics) return null;
  return {
    waitingQueueSize: record.waiting,
    runningRequestsSize: record.running,
    kvCacheUsagePercent: record.kvMicros / 1e6,
    blockSize: record.blockSize,
    numGpuBlocks: record.numBlocks,
    activeLoras: identity.activeLoras,
    waitingLoras: identity.waitingLoras,
    maxActiveLoras: record.maxLoras,
    updatedAtMs: record.updatedAtMs,
  };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
