/**
 * Scheduler state shared by the acceptor threads of one router process. Each thread keeps its own
 * in-memory stores (reads stay synchronous and local); every write is applied locally and
 * broadcast, and the other threads apply it too. So a burst spread over threads still sees where
 * its siblings were sent (the approximate prefix index) and which sessions are bound.
 *
 * Round-robin cursors stay per thread: a shared cursor would need a cross-thread counter for a
 * baseline policy, and per-thread cursors interleave to the same spread.
 */
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
import type {
  BlockIndexReader,
  SpeculativeBlockIndexWriter,
} from '../scheduler/producers/block-index-reader.ts';

type Message =
  | { kind: 'prefix-add'; store: string; endpointId: string; hashes: bigint[]; capacity: number }
  | { kind: 'prefix-remove'; store: string; endpointId: string }
  | { kind: 'session-bind'; store: string; sessionId: string; endpointId: string; nowMs: number };

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
    const post = (m: Message): void => this.channel.postMessage(m);
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
        this.channel.postMessage({ kind: 'session-bind', store: pluginName, sessionId, endpointId, nowMs });
      },
      retainEndpoints: (ids) => local.retainEndpoints(ids),
    };
  }

  roundRobinCursor(): InMemoryRoundRobinCursor {
    return new InMemoryRoundRobinCursor();
  }

  close(): void {
    this.channel.close();
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
    }
  }
}
