/**
 * `session-affinity-scorer` (Alpha, Affinity; llm-d-router.md §2.5): 1.0 for the endpoint the
 * session is pinned to, 0 for the others — a soft preference other scorers can outweigh.
 * Parameters and strategies as in {@link SessionAffinity}.
 */
import type { EndpointSnapshot } from '../../fleet/types.ts';
import { definePlugin } from '../plugin-definition.ts';
import type { Scorer, SchedulingCycle } from '../types.ts';
import {
  SessionAffinityHooks,
  createSessionAffinity,
  sessionAffinityParameters,
} from './session-affinity.ts';

export const SESSION_AFFINITY_SCORER_TYPE = 'session-affinity-scorer';

export class SessionAffinityScorer extends SessionAffinityHooks implements Scorer {
  readonly kind = 'scorer';
  readonly type = SESSION_AFFINITY_SCORER_TYPE;
  readonly category = 'affinity';

  score(cycle: SchedulingCycle, candidates: readonly EndpointSnapshot[]): ReadonlyMap<string, number> {
    const pinned = this.affinity.pinnedEndpoint(cycle);
    const scores = new Map<string, number>();
    for (const endpoint of candidates) scores.set(endpoint.info.id, endpoint.info.id === pinned ? 1 : 0);
    return scores;
  }
}

export const sessionAffinityScorerPlugin = definePlugin({
  type: SESSION_AFFINITY_SCORER_TYPE,
  kind: 'scorer',
  stability: 'alpha',
  summary: 'prefers the endpoint that served the session before',
  parameters: sessionAffinityParameters,
  create(params, ctx) {
    return new SessionAffinityScorer(ctx.name, createSessionAffinity(params, ctx));
  },
});
