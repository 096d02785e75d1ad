/**
 * Scheduler state shared by the acceptor threads of one router process. Each thread keeps its own
 * in-memory stores (reads stay synchronous and local); every write is applied locally and
 * broadcast, and the other threads apply it too. So a burst spread over threads still sees where
 * its siblings were sent (the approximate prefix index), which sessions are bound, and how fast each
 * pod prefills, how much each pod's KV was written and what each pod was sent (kvedge-picker's learned
 * rates, turnover and ledger).
 *
 * Round-robin cursors stay per thread: a shared cursor would need a cross-thread counter for a
 * baseline policy, and per-thread cursors interleave to the same spread.
 */
import { randomUUID } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import { InMemoryPrefixIndexStore } from '../scheduler/producers/in-memory-prefix-index-store.ts';
import type { PrefixIndexStore } from '../scheduler/producers/prefix-index-store.ts';
import { InMemoryRoundRobinCursor } from '../scheduler/pickers/round-robin-cursor.ts';
import { InMemoryNoHitLruStore, type NoHitLruStore } from '../scheduler/scorers/no-hit-lru-store.ts';
import {
  InMemorySessionAffinityStore,
  type SessionAffinityStore,
} from '../scheduler/scorers/session-affinity-store.ts';
import type { SchedulerStateFactory } from '../scheduler/state.ts';
import { CacheTurnover, type CacheTurnoverStore } from '../scheduler/kvedge/cache-turnover.ts';
import { PodLedger, type PodLedgerOptions, type PodLedgerStore } from '../scheduler/kvedge/pod-ledger.ts';
import {
  applyMutation,
  type MutationSink,
  type PickerMutation,
  type PickerStores,
  reportingLedger,
  reportingRates,
  reportingTurnover,
} from '../scheduler/kvedge/mirrored-state.ts';
import {
  type PrefillRateStore,
  RateLearner,
  type RateLearnerOptions,
} from '../scheduler/kvedge/rate-learner.ts';
import type {
  BlockIndexReader,
  SpeculativeBlockIndexWriter,
} from '../scheduler/producers/block-index-reader.ts';

type Message =
  | { kind: 'prefix-add'; store: string; endpointId: string; hashes: bigint[]; capacity: number }
  | { kind: 'prefix-remove'; store: string; endpointId: string }
  | { kind: 'session-bind'; store: string; sessionId: string; endpointId: string; nowMs: number }
  | { kind: 'picker'; store: string; origin: string; mutation: PickerMutation };

export interface ThreadSharedStateOptions {
  /** Channel name; every thread of one router must use the same. */
  readonly channel: string;
  readonly blockIndex?: BlockIndexReader;
  readonly speculativeBlockIndex?: SpeculativeBlockIndexWriter;
}

export class ThreadSharedState implements SchedulerStateFactory {
  readonly blockIndex?: BlockIndexReader;
  readonly speculativeBlockIndex?: SpeculativeBlockIndexWriter;
  private readonly channel: BroadcastChannel;
  private readonly prefixStores = new Map<string, InMemoryPrefixIndexStore>();
  private readonly sessionStores = new Map<string, InMemorySessionAffinityStore>();
  /** kvedge-picker's local stores per plugin instance, which other threads' mutations are applied to. */
  private readonly pickerStores = new Map<string, PickerStores>();
  private closed = false;
  /** Scopes this thread's request ids in the other threads' ledgers (clients choose ids; they may collide). */
  private readonly origin = randomUUID();

  constructor(options: ThreadSharedStateOptions) {
    if (options.blockIndex) this.blockIndex = options.blockIndex;
    if (options.speculativeBlockIndex) this.speculativeBlockIndex = options.speculativeBlockIndex;
    this.channel = new BroadcastChannel(options.channel);
    // A broadcast channel keeps the event loop alive; the router closes it at shutdown.
    (this.channel as unknown as { unref?: () => void }).unref?.();
    this.channel.onmessage = (event) => this.apply((event as { data: Message }).data);
  }

  prefixIndex(pluginName: string): PrefixIndexStore {
    const local = new InMemoryPrefixIndexStore();
    this.prefixStores.set(pluginName, local);
    const post = (m: Message): void => this.post(m);
    return {
      longestPrefix: (hashes) => local.longestPrefix(hashes),
      add: (endpointId, hashes, capacity) => {
        local.add(endpointId, hashes, capacity);
        post({ kind: 'prefix-add', store: pluginName, endpointId, hashes: [...hashes], capacity });
      },
      removeEndpoint: (endpointId) => {
        local.removeEndpoint(endpointId);
        post({ kind: 'prefix-remove', store: pluginName, endpointId });
      },
      endpointIds: () => local.endpointIds(),
      blockCount: (endpointId) => local.blockCount(endpointId),
    };
  }

  noHitLru(_pluginName: string, capacity: number): NoHitLruStore {
    return new InMemoryNoHitLruStore(capacity);
  }

  sessionAffinity(
    pluginName: string,
    options: { ttlMs: number; sweepIntervalMs: number },
  ): SessionAffinityStore {
    const local = new InMemorySessionAffinityStore(options.ttlMs, options.sweepIntervalMs);
    this.sessionStores.set(pluginName, local);
    return {
      get: (sessionId, nowMs) => local.get(sessionId, nowMs),
      bind: (sessionId, endpointId, nowMs) => {
        local.bind(sessionId, endpointId, nowMs);
        this.post({ kind: 'session-bind', store: pluginName, sessionId, endpointId, nowMs });
      },
      retainEndpoints: (ids) => local.retainEndpoints(ids),
    };
  }

  /**
   * kvedge-picker's learned rates, turnover sums and ledger: every thread learns from every
   * thread's observations, counts every thread's KV writes and holds every thread's dispatches,
   * first tokens and completions (a macrotask late for the others'). Only the thread that
   * dispatched a request learns from its first token.
   */
  prefillRates(pluginName: string, options: RateLearnerOptions): PrefillRateStore {
    const local = new RateLearner(options);
    this.pickerStoresOf(pluginName).rates = local;
    return reportingRates(local, this.pickerSink(pluginName));
  }

  cacheTurnover(pluginName: string, windowMs: number): CacheTurnoverStore {
    const local = new CacheTurnover(windowMs);
    this.pickerStoresOf(pluginName).turnover = local;
    return reportingTurnover(local, this.pickerSink(pluginName));
  }

  podLedger(pluginName: string, options: PodLedgerOptions): PodLedgerStore {
    const local = new PodLedger(options.errorWindowMs, options.rateWindowMs, options.graceMs);
    this.pickerStoresOf(pluginName).ledger = local;
    return reportingLedger(local, this.pickerSink(pluginName));
  }

  roundRobinCursor(): InMemoryRoundRobinCursor {
    return new InMemoryRoundRobinCursor();
  }

  close(): void {
    this.closed = true;
    this.channel.close();
  }

  /**
   * Stores stay usable after close (a Redis mirror may still apply a peer's mutation while the
   * router shuts down); they just stop telling the other threads.
   */
  private post(m: Message): void {
    if (!this.closed) this.channel.postMessage(m);
  }

  private pickerStoresOf(pluginName: string): PickerStores {
    let stores = this.pickerStores.get(pluginName);
    if (!stores) {
      stores = {};
      this.pickerStores.set(pluginName, stores);
    }
    return stores;
  }

  private pickerSink(pluginName: string): MutationSink {
    return (mutation) => this.post({ kind: 'picker', store: pluginName, origin: this.origin, mutation });
  }

  private apply(m: Message): void {
    switch (m.kind) {
      case 'prefix-add':
        this.prefixStores.get(m.store)?.add(m.endpointId, m.hashes, m.capacity);
        break;
      case 'prefix-remove':
        this.prefixStores.get(m.store)?.removeEndpoint(m.endpointId);
        break;
      case 'session-bind':
        this.sessionStores.get(m.store)?.bind(m.sessionId, m.endpointId, m.nowMs);
        break;
      case 'picker': {
        const stores = this.pickerStores.get(m.store);
        if (stores) applyMutation(stores, m.origin, m.mutation);
        break;
      }
    }
  }
}
