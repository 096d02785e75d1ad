/**
 * kvedge-picker's router-local state — the dispatch ledger, the learned prefill rates and the KV
 * turnover sums — mirrored between router replicas over Redis pub/sub, as a process's threads
 * mirror it over a BroadcastChannel (`ThreadSharedState`). Without it a replica's ledger holds
 * only its own dispatches and sees 1/n of each pod's queue (docs/scheduling.md, "Routing threads").
 *
 * - Every mutation is applied locally at once, then published fire-and-forget on one channel per
 *   plugin instance; the other replicas apply it to their own stores. Decisions never wait.
 * - Pub/sub delivers at most once and nothing is reloaded after a reconnect: ledger entries live
 *   for one request, turnover sums decay within a minute and the learner forgets, so what a gap
 *   loses heals by itself. While Redis is unavailable nothing is published (counted as skipped).
 * - Only the replica that dispatched a request learns from its first token; mirrored calls discard
 *   what they return.
 */
import { routerClock } from '../fleet/router-clock.ts';
import type { CacheTurnoverStore } from '../scheduler/kvedge/cache-turnover.ts';
import {
  type DispatchFields,
  mirroredRequestId,
  type PodLedgerStore,
} from '../scheduler/kvedge/pod-ledger.ts';
import type { PrefillObservation, PrefillRateStore } from '../scheduler/kvedge/rate-learner.ts';
import type { ClusterStoreDeps } from './store-deps.ts';

/**
 * One mutation on the wire. `r` is the publishing replica, `at` its clock when it published:
 * replicas run on different hosts, so every time in the message is moved by (receiver's now − at)
 * on arrival. That turns clock skew into the message's transit time (sub-millisecond on a LAN).
 */
type Mutation = { r: string; at: number } & (
  | { k: 'dispatch'; fields: DispatchFields; predictedMs: number; awaits: boolean }
  | { k: 'first-token'; id: string; nowMs: number; realtime: boolean }
  | { k: 'complete'; id: string; nowMs: number; failed: boolean; endpointId?: string }
  | { k: 'observe'; endpointId: string; observation: PrefillObservation }
  | { k: 'written'; endpointId: string; tokens: number; nowMs: number }
);

/** A mutation before it is stamped for publishing. */
type Unstamped = Mutation extends infer M ? (M extends unknown ? Omit<M, 'r' | 'at'> : never) : never;

export interface PickerStateMirrorOptions extends ClusterStoreDeps {
  /** The router clock (ms, shared by threads); default `routerClock`. */
  readonly clock?: () => number;
}

interface PluginStores {
  ledger?: PodLedgerStore;
  rates?: PrefillRateStore;
  turnover?: CacheTurnoverStore;
}

export class PickerStateMirror {
  readonly #o: PickerStateMirrorOptions & { readonly clock: () => number };
  readonly #plugins = new Map<string, PluginStores>();
  #closed = false;

  constructor(options: PickerStateMirrorOptions) {
    this.#o = { clock: routerClock, ...options };
  }

  /** `local`, with every mutation also published to, and applied from, the other replicas. */
  ledger(plugin: string, local: PodLedgerStore): PodLedgerStore {
    this.#stores(plugin).ledger = local;
    const publish = (m: Unstamped): void => this.#publish(plugin, m);
    return {
      dispatch: (fields, predictedMs, awaits = true, foreign = false) => {
        const record = local.dispatch(fields, predictedMs, awaits, foreign);
        publish({ k: 'dispatch', fields, predictedMs, awaits });
        return record;
      },
      firstToken: (id, nowMs, realtime = true) => {
        const observation = local.firstToken(id, nowMs, realtime);
        publish({ k: 'first-token', id, nowMs, realtime });
        return observation;
      },
      complete: (id, nowMs, failed, endpointId) => {
        const record = local.complete(id, nowMs, failed, endpointId);
        publish({ k: 'complete', id, nowMs, failed, ...(endpointId !== undefined ? { endpointId } : {}) });
        return record;
      },
      record: (id) => local.record(id),
      book: (endpointId) => local.book(endpointId),
      retain: (activeIds) => local.retain(activeIds),
      get presumeGraceMs() {
        return local.presumeGraceMs;
      },
    };
  }

  rates(plugin: string, local: PrefillRateStore): PrefillRateStore {
    this.#stores(plugin).rates = local;
    return {
      rates: (endpointId) => local.rates(endpointId),
      fleetRates: () => local.fleetRates(),
      observe: (endpointId, observation) => {
        local.observe(endpointId, observation);
        this.#publish(plugin, { k: 'observe', endpointId, observation });
      },
      retain: (activeIds) => local.retain(activeIds),
    };
  }

  turnover(plugin: string, local: CacheTurnoverStore): CacheTurnoverStore {
    this.#stores(plugin).turnover = local;
    return {
      record: (endpointId, tokens, nowMs) => {
        local.record(endpointId, tokens, nowMs);
        this.#publish(plugin, { k: 'written', endpointId, tokens, nowMs });
      },
      tokensWritten: (endpointId, nowMs) => local.tokensWritten(endpointId, nowMs),
      retain: (activeIds) => local.retain(activeIds),
    };
  }

  close(): void {
    this.#closed = true;
  }

  #stores(plugin: string): PluginStores {
    let stores = this.#plugins.get(plugin);
    if (!stores) {
      stores = {};
      this.#plugins.set(plugin, stores);
      this.#o.hub.subscribe(this.#o.keys.pickerChannel(plugin), {
        onMessage: (message) => this.#apply(plugin, message),
      });
    }
    return stores;
  }

  #publish(plugin: string, unstamped: Unstamped): void {
    if (this.#closed) return;
    const { client, health, counters, keys } = this.#o;
    if (!health.healthy) {
      counters.writesSkippedDegraded++;
      return;
    }
    const mutation = { ...unstamped, r: this.#o.replicaId, at: this.#o.clock() };
    client.publish(keys.pickerChannel(plugin), JSON.stringify(mutation)).then(
      () => counters.pickerStatePublished++,
      (err: unknown) => {
        counters.redisErrors++;
        health.reportFailure(err);
      },
    );
  }

  #apply(plugin: string, message: Buffer): void {
    let m: Mutation;
    try {
      m = JSON.parse(message.toString('utf8')) as Mutation;
    } catch (err) {
      this.#o.logger.debug({ err, plugin }, 'undecodable picker-state message ignored');
      return;
    }
    if (this.#closed || typeof m !== 'object' || m === null || m.r === this.#o.replicaId) return;
    const stores = this.#plugins.get(plugin);
    if (!stores) return;
    this.#o.counters.pickerStateReceived++;
    try {
      this.#applyTo(stores, m);
    } catch (err) {
      // A hub handler must not throw; a mutation that cannot be applied is dropped like a lost message.
      this.#o.logger.debug({ err, plugin }, 'picker-state mutation not applied');
    }
  }

  #applyTo(stores: PluginStores, m: Mutation): void {
    const shift = this.#o.clock() - m.at;
    switch (m.k) {
      case 'dispatch': {
        const fields = {
          ...m.fields,
          requestId: mirroredRequestId(m.r, m.fields.requestId),
          dispatchMs: m.fields.dispatchMs + shift,
        };
        stores.ledger?.dispatch(fields, m.predictedMs + shift, m.awaits, true);
        break;
      }
      case 'first-token':
        stores.ledger?.firstToken(mirroredRequestId(m.r, m.id), m.nowMs + shift, m.realtime);
        break;
      case 'complete':
        stores.ledger?.complete(mirroredRequestId(m.r, m.id), m.nowMs + shift, m.failed, m.endpointId);
        break;
      case 'observe':
        stores.rates?.observe(m.endpointId, m.observation);
        break;
      case 'written':
        stores.turnover?.record(m.endpointId, m.tokens, m.nowMs + shift);
        break;
    }
  }
}
