/**
 * Where stateful plugins get their stores. The config loader asks this factory for one store per
 * plugin instance; swapping the factory (e.g. for Redis-backed stores shared by router replicas)
 * changes where state lives without touching any plugin.
 */
import { CacheTurnover, type CacheTurnoverStore } from './kvedge/cache-turnover.ts';
import { PodLedger, type PodLedgerOptions, type PodLedgerStore } from './kvedge/pod-ledger.ts';
import { RateLearner, type PrefillRateStore, type RateLearnerOptions } from './kvedge/rate-learner.ts';
import type { RoundRobinCursor } from './pickers/round-robin-cursor.ts';
import { InMemoryRoundRobinCursor } from './pickers/round-robin-cursor.ts';
import type { BlockIndexReader, SpeculativeBlockIndexWriter } from './producers/block-index-reader.ts';
import { InMemoryPrefixIndexStore } from './producers/in-memory-prefix-index-store.ts';
import type { PrefixIndexStore } from './producers/prefix-index-store.ts';
import type { NoHitLruStore } from './scorers/no-hit-lru-store.ts';
import { InMemoryNoHitLruStore } from './scorers/no-hit-lru-store.ts';
import type { SessionAffinityStore } from './scorers/session-affinity-store.ts';
import { InMemorySessionAffinityStore } from './scorers/session-affinity-store.ts';

export interface SchedulerStateFactory {
  /** Block index of one `approx-prefix-cache-producer` instance. */
  prefixIndex(pluginName: string): PrefixIndexStore;
  /** Cold-request LRU of one `no-hit-lru-scorer` instance. */
  noHitLru(pluginName: string, capacity: number): NoHitLruStore;
  /** Session bindings of one `session-affinity-scorer` instance (`session_id` strategy). */
  sessionAffinity(
    pluginName: string,
    options: { ttlMs: number; sweepIntervalMs: number },
  ): SessionAffinityStore;
  /** Cursor of one `round-robin-picker` instance. */
  roundRobinCursor(pluginName: string): RoundRobinCursor;
  /** Learned prefill rates of one `kvedge-picker` instance. */
  prefillRates(pluginName: string, options: RateLearnerOptions): PrefillRateStore;
  /** Dispatch-time ledger of one `kvedge-picker` instance. */
  podLedger(pluginName: string, options: PodLedgerOptions): PodLedgerStore;
  /** Tokens written into each pod's KV, summed over `windowMs`, of one `kvedge-picker` instance. */
  cacheTurnover(pluginName: string, windowMs: number): CacheTurnoverStore;
  /** Precise KV-block index, when one is running; without it the precise producer reports no info. */
  readonly blockIndex?: BlockIndexReader;
  /** Speculative writer for the precise index (`speculativeIndexing: true`). */
  readonly speculativeBlockIndex?: SpeculativeBlockIndexWriter;
}

/** Options of {@link createInMemoryState}. */
export interface InMemoryStateOptions {
  readonly blockIndex?: BlockIndexReader;
  readonly speculativeBlockIndex?: SpeculativeBlockIndexWriter;
}

/** The embedded default: every store in process memory. */
export function createInMemoryState(options: InMemoryStateOptions = {}): SchedulerStateFactory {
  return {
    prefixIndex: () => new InMemoryPrefixIndexStore(),
    noHitLru: (_name, capacity) => new InMemoryNoHitLruStore(capacity),
    sessionAffinity: (_name, { ttlMs, sweepIntervalMs }) =>
      new InMemorySessionAffinityStore(ttlMs, sweepIntervalMs),
    roundRobinCursor: () => new InMemoryRoundRobinCursor(),
    prefillRates: (_name, learnerOptions) => new RateLearner(learnerOptions),
    cacheTurnover: (_name, windowMs) => new CacheTurnover(windowMs),
    podLedger: (_name, o) => new PodLedger(o.errorWindowMs, o.rateWindowMs, o.graceMs),
    ...(options.blockIndex ? { blockIndex: options.blockIndex } : {}),
    ...(options.speculativeBlockIndex ? { speculativeBlockIndex: options.speculativeBlockIndex } : {}),
  };
}
