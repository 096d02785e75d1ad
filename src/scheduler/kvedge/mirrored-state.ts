/**
 * kvedge-picker's router-local state — ledger, learned rates, turnover sums — as a stream of
 * mutations, so one transport can carry it to the router's other threads (`ThreadSharedState`,
 * BroadcastChannel) or replicas (`PickerStateMirror`, Redis pub/sub). The `reporting*` wrappers
 * apply each mutation locally and hand it to the transport; {@link applyMutation} replays a
 * received one on the receiver's own stores, which report nothing further.
 */
import type { CacheTurnoverStore } from './cache-turnover.ts';
import { type DispatchFields, mirroredRequestId, type PodLedgerStore } from './pod-ledger.ts';
import type { PrefillObservation, PrefillRateStore } from './rate-learner.ts';

/** One mutation; plain data (it crosses threads by structured clone and hosts as JSON). */
export type PickerMutation =
  | { k: 'dispatch'; fields: DispatchFields; predictedMs: number; awaits: boolean }
  | { k: 'first-token'; id: string; nowMs: number; realtime: boolean }
  | { k: 'complete'; id: string; nowMs: number; failed: boolean; endpointId?: string }
  | { k: 'observe'; endpointId: string; observation: PrefillObservation }
  | { k: 'written'; endpointId: string; tokens: number; nowMs: number };

/** One plugin instance's stores, as a receiver holds them. */
export interface PickerStores {
  ledger?: PodLedgerStore;
  rates?: PrefillRateStore;
  turnover?: CacheTurnoverStore;
}

export type MutationSink = (mutation: PickerMutation) => void;

/** `local`, reporting every dispatch, first token and completion to `report`. */
export function reportingLedger(local: PodLedgerStore, report: MutationSink): PodLedgerStore {
  return {
    dispatch: (fields, predictedMs, awaits = true, foreign = false) => {
      const record = local.dispatch(fields, predictedMs, awaits, foreign);
      report({ k: 'dispatch', fields, predictedMs, awaits });
      return record;
    },
    firstToken: (id, nowMs, realtime = true) => {
      const observation = local.firstToken(id, nowMs, realtime);
      report({ k: 'first-token', id, nowMs, realtime });
      return observation;
    },
    complete: (id, nowMs, failed, endpointId) => {
      const record = local.complete(id, nowMs, failed, endpointId);
      report({ k: 'complete', id, nowMs, failed, ...(endpointId !== undefined ? { endpointId } : {}) });
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

/** `local`, reporting every learning observation to `report`. */
export function reportingRates(local: PrefillRateStore, report: MutationSink): PrefillRateStore {
  return {
    rates: (endpointId) => local.rates(endpointId),
    fleetRates: () => local.fleetRates(),
    observe: (endpointId, observation) => {
      local.observe(endpointId, observation);
      report({ k: 'observe', endpointId, observation });
    },
    retain: (activeIds) => local.retain(activeIds),
  };
}

/** `local`, reporting every KV write to `report`. */
export function reportingTurnover(local: CacheTurnoverStore, report: MutationSink): CacheTurnoverStore {
  return {
    record: (endpointId, tokens, nowMs) => {
      local.record(endpointId, tokens, nowMs);
      report({ k: 'written', endpointId, tokens, nowMs });
    },
    tokensWritten: (endpointId, nowMs) => local.tokensWritten(endpointId, nowMs),
    retain: (activeIds) => local.retain(activeIds),
  };
}

/**
 * Replays a mutation received from `origin` on the receiver's stores. Request ids move into the
 * origin's namespace (clients choose ids; two senders' may collide) and the ledger marks the
 * records foreign (they expire if their completion is lost); every time moves by `shiftMs` (the
 * receiver's clock minus the sender's, where they differ). A first token replayed here teaches
 * nothing: only the dispatching router learns from it.
 */
export function applyMutation(stores: PickerStores, origin: string, m: PickerMutation, shiftMs = 0): void {
  switch (m.k) {
    case 'dispatch': {
      const fields = {
        ...m.fields,
        requestId: mirroredRequestId(origin, m.fields.requestId),
        dispatchMs: m.fields.dispatchMs + shiftMs,
      };
      stores.ledger?.dispatch(fields, m.predictedMs + shiftMs, m.awaits, true);
      break;
    }
    case 'first-token':
      stores.ledger?.firstToken(mirroredRequestId(origin, m.id), m.nowMs + shiftMs, m.realtime);
      break;
    case 'complete':
      stores.ledger?.complete(mirroredRequestId(origin, m.id), m.nowMs + shiftMs, m.failed, m.endpointId);
      break;
    case 'observe':
      stores.rates?.observe(m.endpointId, m.observation);
      break;
    case 'written':
      stores.turnover?.record(m.endpointId, m.tokens, m.nowMs + shiftMs);
      break;
  }
}
