/**
 * `session-affinity-filter` (Alpha; llm-d-router.md §2.4): keeps only the session's endpoint when
 * it is among the candidates; otherwise keeps every candidate (never empties the set).
 * Parameters and strategies as in {@link SessionAffinity}.
 */
import type { EndpointSnapshot } from '../../fleet/types.ts';
import { definePlugin } from '../plugin-definition.ts';
import {
  SessionAffinity,
  sessionAffinityParameters,
  sessionStoreOptions,
} from '../scorers/session-affinity.ts';
import type {
  DecisionHeaders,
  DispatchEvent,
  Filter,
  FilterResult,
  ResponseCompleteEvent,
  SchedulingCycle,
  SchedulingResult,
} from '../types.ts';

export const SESSION_AFFINITY_FILTER_TYPE = 'session-affinity-filter';

export class SessionAffinityFilter implements Filter {
  readonly kind = 'filter';
  readonly type = SESSION_AFFINITY_FILTER_TYPE;

  constructor(
    readonly name: string,
    private readonly affinity: SessionAffinity,
  ) {}

  filter(cycle: SchedulingCycle, candidates: readonly EndpointSnapshot[]): FilterResult {
    const pinned = this.affinity.pinnedEndpoint(cycle);
    const match =
      pinned === undefined ? undefined : candidates.find((endpoint) => endpoint.info.id === pinned);
    if (!match) return { kept: candidates };
    const reasons = new Map<string, string>();
    for (const endpoint of candidates) {
      if (endpoint !== match) reasons.set(endpoint.info.id, `session pinned to ${pinned}`);
    }
    return { kept: [match], reasons };
  }

  onDispatch(event: DispatchEvent): void {
    this.affinity.onDispatch(event);
  }

  onResponseComplete(event: ResponseCompleteEvent): void {
    this.affinity.onResponseComplete(event);
  }

  contributeHeaders(cycle: SchedulingCycle, result: SchedulingResult, headers: DecisionHeaders): void {
    this.affinity.contributeHeaders(cycle, result, headers);
  }

  retainEndpoints(activeIds: ReadonlySet<string>): void {
    this.affinity.retainEndpoints(activeIds);
  }
}

export const sessionAffinityFilterPlugin = definePlugin({
  type: SESSION_AFFINITY_FILTER_TYPE,
  kind: 'filter',
  stability: 'alpha',
  summary: 'pins a session to the endpoint that served it, when that endpoint is a candidate',
  parameters: sessionAffinityParameters,
  create(params, ctx) {
    const store =
      params.strategy === 'session_id'
        ? ctx.state.sessionAffinity(ctx.name, sessionStoreOptions(params))
        : undefined;
    return new SessionAffinityFilter(ctx.name, new SessionAffinity(ctx.name, params, store));
  },
});
