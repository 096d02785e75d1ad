/**
 * `session-affinity-filter` (Alpha; llm-d-router.md §2.4): keeps only the session's endpoint when
 * it is among the candidates; otherwise keeps every candidate (never empties the set).
 * Parameters and strategies as in {@link SessionAffinity}.
 */
import type { EndpointSnapshot } from '../../fleet/types.ts';
import { definePlugin } from '../plugin-definition.ts';
import {
  SessionAffinityHooks,
  createSessionAffinity,
  sessionAffinityParameters,
} from '../scorers/session-affinity.ts';
import type { Filter, FilterResult, SchedulingCycle } from '../types.ts';

export const SESSION_AFFINITY_FILTER_TYPE = 'session-affinity-filter';

export class SessionAffinityFilter extends SessionAffinityHooks implements Filter {
  readonly kind = 'filter';
  readonly type = SESSION_AFFINITY_FILTER_TYPE;

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
}

export const sessionAffinityFilterPlugin = definePlugin({
  type: SESSION_AFFINITY_FILTER_TYPE,
  kind: 'filter',
  stability: 'alpha',
  summary: 'pins a session to the endpoint that served it, when that endpoint is a candidate',
  parameters: sessionAffinityParameters,
  create(params, ctx) {
    return new SessionAffinityFilter(ctx.name, createSessionAffinity(params, ctx));
  },
});
