/**
 * The in-memory block index: a fixed-size table in shared memory, written by one owner thread and
 * read lock-free by any number of reader threads (`memory-index-reader.ts`).
 *
 * ```ts
 * const index = MemoryBlockIndex.create({ capacityKeys: 4_000_000 });
 * new Worker(url, { workerData: { buffers: index.buffers, port: index.openWritePort() },
 *                   transferList: [port] });
 * // in the worker: MemoryBlockIndexReader.attach(buffers, { writePort: port })
 * ```
 *
 * Memory is fixed at creation: per key 12 + 4·slotsPerKey shared bytes (44 by default) plus a
 * 4-byte age, and per engine mapping 24 bytes — about 72 bytes per block held by one pod with the
 * defaults (68.7 MiB per million; {@link estimateMemoryBytes}). Keys live in 8-way sets, so a table
 * filled to its nominal capacity holds about 86% of it (the rest are conflict evictions): size it
 * ~1.2× the blocks the fleet caches. A full set evicts (policies in key-table-writer.ts and
 * engine-key-map.ts); nothing grows at run time except the pod name map.
 *
 * Counting: every `add` of a confirmed entry adds one reference (saturating at 7) to each (key, pod,
 * tier); `removeByEngineKey` drops one from each request key the engine key maps to. Speculative
 * entries carry no references and no engine keys, expire after their TTL, give way to a confirmed
 * entry of the same pod, and survive `clearPod` (the request that created them is still going to
 * compute those blocks); `removePod` drops them too.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import {
  DEFAULT_SPECULATIVE_TTL_MS,
  type AddOptions,
  type BlockIndex,
  type BlockIndexStats,
  type BlockKeyList,
  type PrefixMatch,
} from './block-index.ts';
import { resolveTierWeights, tierCode, type TierWeights } from './device-tiers.ts';
import { EngineKeyMap } from './engine-key-map.ts';
import { defaultClock } from './index-clock.ts';
import { ExpiryQueue } from './expiry-queue.ts';
import { joinKey, keyHalves, lastHigh, splitKey } from './key-halves.ts';
import { KeyTableWriter } from './key-table-writer.ts';
import { PodTable } from './pod-directory.ts';
import { PrefixMatcher } from './prefix-matcher.ts';
import { forEachEngineRun } from './ratio-rule.ts';
import { SharedLayout, WAYS, type MemoryIndexBuffers } from './shared-layout.ts';
import { expiryTickFor, GEN_MASK, MAX_PODS, tickAt } from './slot-word.ts';
import { isSpeculativeWrite } from './speculative-write.ts';

export interface MemoryBlockIndexOptions {
  /** Request keys the table holds (rounded up to a multiple of 8). Default 1 048 576. */
  readonly capacityKeys?: number;
  /** Pods one key can list at once; a further pod evicts the oldest. Default 8. */
  readonly slotsPerKey?: number;
  /** Engine → request mappings held (one per pod per engine block). Default = `capacityKeys`. */
  readonly engineCapacity?: number;
  /** Most pods known at once (≤ 1023). Default 1023. */
  readonly maxPods?: number;
  /** Longest pod id, in UTF-8 bytes. Default 256. */
  readonly maxPodIdBytes?: number;
  /** Canonical block size of the request keys, in tokens. Default 16. */
  readonly blockSize?: number;
  /** Scoring weights per device tier; default gpu 1.0, cpu 0.8, others 1.0. */
  readonly tierWeights?: TierWeights;
  /** Speculative expiries remembered for sweeping. Default 262 144. */
  readonly speculativeQueueSize?: number;
  /** Period of the owner's sweep (speculative expiry, compaction); 0 disables the timer. Default 500. */
  readonly sweepIntervalMs?: number;
  /** Clock in milliseconds, comparable across threads. Default `performance.timeOrigin + performance.now()`. */
  readonly now?: () => number;
}

export interface MemoryBlockIndexStats extends BlockIndexStats {
  readonly capacityKeys: number;
  readonly engineCapacity: number;
  readonly pods: number;
  /** Engine mappings overwritten because their set was full. */
  readonly evictedEngineMappings: number;
  /** Speculative writes from reader threads that could not be applied (bad message, pod table full). */
  readonly rejectedSpeculativeWrites: number;
}

const DEFAULT_CAPACITY = 1 << 20;
/** Every record is compacted at least this often, well inside the 35-minute expiry horizon. */
const FULL_RECLAIM_PASS_MS = 60_000;

/** Bytes a table of these dimensions takes (shared and private), without the pod directory. */
export function estimateMemoryBytes(
  capacityKeys: number,
  slotsPerKey = 8,
  engineCapacity = capacityKeys,
): number {
  return capacityKeys * (SharedLayout.bytesPerKey(slotsPerKey) + 4) + engineCapacity * 24;
}

export class MemoryBlockIndex implements BlockIndex {
  readonly blockSize: number;
  readonly #layout: SharedLayout;
  readonly #pods: PodTable;
  readonly #writer: KeyTableWriter;
  readonly #engine: EngineKeyMap;
  readonly #expiry: ExpiryQueue;
  readonly #matcher: PrefixMatcher;
  readonly #now: () => number;
  readonly #reclaimPerSweep: number;
  readonly #ports = new Set<MessagePort>();
  readonly #collected: number[] = [];
  #timer: NodeJS.Timeout | null = null;
  #reclaimCursor = 0;
  #unknownEngineKeyRemovals = 0;
  #rejectedSpeculativeWrites = 0;
  #closed = false;

  private constructor(layout: SharedLayout, options: MemoryBlockIndexOptions) {
    this.#layout = layout;
    this.#now = options.now ?? defaultClock;
    this.blockSize = options.blockSize ?? 16;
    if (!Number.isInteger(this.blockSize) || this.blockSize < 1)
      throw new RangeError('blockSize must be a positive integer');
    this.#pods = new PodTable(layout);
    this.#writer = new KeyTableWriter(layout, this.#pods);
    this.#engine = new EngineKeyMap(options.engineCapacity ?? layout.capacity, (pod) => this.#pods.gen(pod));
    this.#expiry = new ExpiryQueue(options.speculativeQueueSize ?? 1 << 18);
    this.#matcher = new PrefixMatcher(layout, this.#pods, this.#now);
    const interval = options.sweepIntervalMs ?? 500;
    this.#reclaimPerSweep = Math.max(
      1024,
      Math.ceil((layout.capacity * Math.max(interval, 1)) / FULL_RECLAIM_PASS_MS),
    );
    if (interval > 0) {
      this.#timer = setInterval(() => this.sweep(), interval);
      this.#timer.unref();
    }
  }

  /** Allocates the shared table and returns its owner. Call from the thread that will write it. */
  static create(options: MemoryBlockIndexOptions = {}): MemoryBlockIndex {
    const capacity = options.capacityKeys ?? DEFAULT_CAPACITY;
    if (!Number.isInteger(capacity) || capacity < WAYS)
      throw new RangeError(`capacityKeys must be an integer >= ${WAYS}`);
    const layout = SharedLayout.create({
      sets: Math.ceil(capacity / WAYS),
      slotsPerKey: options.slotsPerKey ?? 8,
      maxPods: options.maxPods ?? MAX_PODS,
      podIdBytes: options.maxPodIdBytes ?? 256,
      epochMs: (options.now ?? defaultClock)(),
      tierWeights: resolveTierWeights(options.tierWeights),
    });
    return new MemoryBlockIndex(layout, options);
  }

  /** The shared buffers to hand to {@link MemoryBlockIndexReader.attach} in other threads. */
  get buffers(): MemoryIndexBuffers {
    return this.#layout.buffers;
  }

  /**
   * A port through which a reader thread's `recordSpeculative` reaches this owner. Transfer it to
   * the reader (`transferList`); one port per reader.
   */
  openWritePort(): MessagePort {
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (message: unknown) => {
      if (!isSpeculativeWrite(message)) {
        this.#rejectedSpeculativeWrites++;
        return;
      }
      try {
        this.recordSpeculative(message.podId, message.keys, message.ttlMs);
      } catch {
        this.#rejectedSpeculativeWrites++;
      }
    });
    port1.unref();
    this.#ports.add(port1);
    return port2;
  }

  add(
    podId: string,
    tier: string,
    requestKeys: BlockKeyList,
    engineKeys: readonly bigint[] | null,
    opts: AddOptions = {},
  ): void {
    if (requestKeys.length === 0) return;
    this.#assertOpen();
    const pod = this.#pods.acquire(podId);
    const halves = keyHalves(requestKeys);
    const now = this.#now();
    const nowTick = tickAt(now, this.#layout.epochMs);
    if (opts.speculative) {
      const expiry = expiryTickFor(now, this.#layout.epochMs, opts.ttlMs ?? DEFAULT_SPECULATIVE_TTL_MS);
      for (let i = 0; i < halves.length; i += 2) {
        const lo = halves[i]!;
        const hi = halves[i + 1]!;
        if (lo === 0 && hi === 0) continue;
        if (this.#writer.addSpeculative(lo, hi, pod, expiry, nowTick)) this.#expiry.push(lo, hi, expiry);
      }
      return;
    }
    const tierIndex = tierCode(tier);
    for (let i = 0; i < halves.length; i += 2) {
      const lo = halves[i]!;
      const hi = halves[i + 1]!;
      if (lo === 0 && hi === 0) continue;
      this.#writer.addConfirmed(lo, hi, pod, tierIndex, nowTick);
    }
    if (engineKeys && engineKeys.length > 0) {
      forEachEngineRun(engineKeys.length, requestKeys.length, (e, first, count) => {
        const lo = splitKey(engineKeys[e]!);
        this.#engine.set(pod, lo, lastHigh(), halves, first, count);
      });
    }
  }

  recordSpeculative(
    podId: string,
    requestKeys: BlockKeyList,
    ttlMs: number = DEFAULT_SPECULATIVE_TTL_MS,
  ): void {
    this.add(podId, 'gpu', requestKeys, null, { speculative: true, ttlMs });
  }

  removeByEngineKey(podId: string, tier: string, engineKey: bigint): void {
    const pod = this.#pods.indexOf(podId);
    const lo = splitKey(engineKey);
    const hi = lastHigh();
    const keys = this.#collected;
    keys.length = 0;
    if (pod === undefined || this.#engine.collect(pod, lo, hi, keys) === 0) {
      this.#unknownEngineKeyRemovals++;
      return;
    }
    const nowTick = tickAt(this.#now(), this.#layout.epochMs);
    const tierIndex = tierCode(tier);
    let held = false;
    for (let i = 0; i < keys.length; i += 2) {
      this.#writer.release(keys[i]!, keys[i + 1]!, pod, tierIndex, nowTick);
      held ||= this.#writer.holdsConfirmed(keys[i]!, keys[i + 1]!, pod);
    }
    // Keep the mapping while another tier (or reference) still holds the blocks.
    if (!held) this.#engine.delete(pod, lo, hi);
  }

  removeByRequestKeys(podId: string, tier: string, requestKeys: BlockKeyList): void {
    const pod = this.#pods.indexOf(podId);
    if (pod === undefined || requestKeys.length === 0) return;
    const halves = keyHalves(requestKeys);
    const nowTick = tickAt(this.#now(), this.#layout.epochMs);
    const tierIndex = tierCode(tier);
    for (let i = 0; i < halves.length; i += 2)
      this.#writer.remove(halves[i]!, halves[i + 1]!, pod, tierIndex, nowTick);
  }

  clearPod(podId: string): void {
    const pod = this.#pods.indexOf(podId);
    if (pod === undefined) return;
    const gen = this.#pods.bumpGen(pod);
    this.#writer.forgetConfirmed(pod);
    // Generations are stored mod 2^16: before a value can repeat, remove the pod's old entries.
    if ((gen & GEN_MASK) === 0) {
      this.#writer.purgePod(pod, tickAt(this.#now(), this.#layout.epochMs));
      this.#engine.purgePod(pod);
    }
  }

  removePod(podId: string): void {
    const pod = this.#pods.indexOf(podId);
    if (pod === undefined) return;
    this.#pods.bumpGen(pod);
    this.#writer.forgetConfirmed(pod);
    this.#writer.purgePod(pod, tickAt(this.#now(), this.#layout.epochMs));
    this.#engine.purgePod(pod);
    this.#pods.release(pod);
  }

  requestKeyFor(podId: string, engineKey: bigint): bigint | undefined {
    const keys = this.#resolve(podId, engineKey);
    return keys.length === 0 ? undefined : joinKey(keys[keys.length - 2]!, keys[keys.length - 1]!);
  }

  /** Every request key `engineKey` maps to for `podId`, in order (several when engine blocks are larger). */
  requestKeysFor(podId: string, engineKey: bigint): bigint[] {
    const keys = this.#resolve(podId, engineKey);
    const out: bigint[] = [];
    for (let i = 0; i < keys.length; i += 2) out.push(joinKey(keys[i]!, keys[i + 1]!));
    return out;
  }

  longestPrefix(requestKeys: BlockKeyList, podIds?: Iterable<string>): Map<string, PrefixMatch> {
    return this.#matcher.longestPrefix(requestKeys, podIds);
  }

  /** Pods the index currently knows (those with entries, or added and not removed). */
  podIds(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.#layout.maxPods; i++) {
      const id = this.#pods.name(i);
      if (id !== undefined) out.push(id);
    }
    return out;
  }

  stats(): MemoryBlockIndexStats {
    const w = this.#writer;
    return {
      keys: w.keys,
      entries: w.confirmed + w.speculative,
      speculativeEntries: w.speculative,
      engineMappings: this.#engine.size,
      memoryBytes:
        this.#layout.byteLength + w.privateBytes + this.#engine.byteLength + this.#expiry.byteLength,
      evictedKeys: w.evictedKeys,
      evictedEntries: w.evictedEntries,
      unknownEngineKeyRemovals: this.#unknownEngineKeyRemovals,
      capacityKeys: this.#layout.capacity,
      engineCapacity: this.#engine.capacity,
      pods: this.#pods.size,
      evictedEngineMappings: this.#engine.evicted,
      rejectedSpeculativeWrites: this.#rejectedSpeculativeWrites,
    };
  }

  /**
   * Gives back the slots of expired speculative entries and compacts a slice of the table (a full
   * pass per minute). Runs on the sweep timer; callable directly (tests, `sweepIntervalMs: 0`).
   */
  sweep(): void {
    if (this.#closed) return;
    const nowTick = tickAt(this.#now(), this.#layout.epochMs);
    this.#expiry.drain(nowTick, (lo, hi) => this.#writer.compact(lo, hi, nowTick));
    this.#reclaimCursor = this.#writer.reclaim(this.#reclaimCursor, this.#reclaimPerSweep, nowTick);
  }

  /** Stops the sweep timer and closes the write ports. Readers keep their (frozen) view. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    for (const port of this.#ports) port.close();
    this.#ports.clear();
  }

  #resolve(podId: string, engineKey: bigint): number[] {
    const keys = this.#collected;
    keys.length = 0;
    const pod = this.#pods.indexOf(podId);
    if (pod === undefined) return keys;
    const lo = splitKey(engineKey);
    this.#engine.collect(pod, lo, lastHigh(), keys);
    return keys;
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('memory block index is closed');
  }
}
