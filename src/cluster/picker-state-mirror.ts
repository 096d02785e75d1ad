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
  applyMutation,
  type PickerMutation,
  type PickerStores,
  reportingLedger,
  reportingRates,
  reportingTurnover,
} from '../scheduler/kvedge/mirrored-state.ts';
import type { PodLedgerStore } from '../scheduler/kvedge/pod-ledger.ts';
import type { PrefillRateStore } from '../scheduler/kvedge/rate-learner.ts';
import type { ClusterStoreDeps } from './store-deps.ts';

/**
 * One mutation on the wire. `r` is the publishing replica, `at` its clock when it published:
 * replicas run on different hosts, so every time in the message is moved by (receiver's now − at)
 * on arrival. That turns clock skew into the message's transit time (sub-millisecond on a LAN).
 */
type Stamped = PickerMutation & { r: string; at: number };

export interface PickerStateMirrorOptions extends ClusterStoreDeps {
  /** The router clock (ms, shared by threads); default `routerClock`. */
  readonly clock?: () => number;
}

export class PickerStateMirror {
  readonly #o: PickerStateMirrorOptions & { readonly clock: () => number };
  readonly #plugins = new Map<string, PickerStores>();
  #closed = false;

  constructor(options: PickerStateMirrorOptions) {
    this.#o = { clock: routerClock, ...options };
  }

  /** `local`, with every mutation also published to, and applied from, the other replicas. */
  ledger(plugin: string, local: PodLedgerStore): PodLedgerStore {
    this.#stores(plugin).ledger = local;
    return reportingLedger(local, (m) => this.#publish(plugin, m));
  }

  rates(plugin: string, local: PrefillRateStore): PrefillRateStore {
    this.#stores(plugin).rates = local;
    return reportingRates(local, (m) => this.#publish(plugin, m));
  }

  turnover(plugin: string, local: CacheTurnoverStore): CacheTurnoverStore {
    this.#stores(plugin).turnover = local;
    return reportingTurnover(local, (m) => this.#publish(plugin, m));
  }

  close(): void {
    this.#closed = true;
  }

  #stores(plugin: string): PickerStores {
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

  #publish(plugin: string, mutation: PickerMutation): void {
    if (this.#closed) return;
    const { client, health, counters, keys } = this.#o;
    if (!health.healthy) {
      counters.writesSkippedDegraded++;
      return;
    }
    const stamped: Stamped = { ...mutation, r: this.#o.replicaId, at: this.#o.clock() };
    client.publish(keys.pickerChannel(plugin), JSON.stringify(stamped)).then(
      () => counters.pickerStatePublished++,
      (err: unknown) => {
        counters.redisErrors++;
        health.reportFailure(err);
      },
    );
  }

  #apply(plugin: string, message: Buffer): void {
    let m: Stamped;
    try {
      m = JSON.parse(message.toString('utf8')) as Stamped;
    } catch (err) {
      this.#o.logger.debug({ err, plugin }, 'undecodable picker-state message ignored');
      return;
    }
    if (this.#closed || typeof m !== 'object' || m === null || m.r === this.#o.replicaId) return;
    const stores = this.#plugins.get(plugin);
    if (!stores) return;
    this.#o.counters.pickerStateReceived++;
    try {
      applyMutation(stores, m.r, m, this.#o.clock() - m.at);
    } catch (err) {
      // A hub handler must not throw; a mutation that cannot be applied is dropped like a lost message.
      this.#o.logger.debug({ err, plugin }, 'picker-state mutation not applied');
    }
  }
}
