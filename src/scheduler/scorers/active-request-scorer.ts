/**
 * `active-request-scorer` (Beta, Distribution; llm-d-router.md §2.5): on in-flight request counts
 * (here `snapshot.inflight.requests`, counted by the router at dispatch): count ≤ `idleThreshold`
 * (default 0) → 1.0; else `(max − count) / max · maxBusyScore` (default 1.0), where max is the
 * largest count among candidates. `requestTimeout` is accepted and ignored, as in llm-d.
 */
import { z } from 'zod';
import type { EndpointSnapshot } from '../../fleet/types.ts';
import { definePlugin } from '../plugin-definition.ts';
import type { Scorer, SchedulingCycle } from '../types.ts';

export const ACTIVE_REQUEST_SCORER_TYPE = 'active-request-scorer';

export const activeRequestParameters = z.strictObject({
  idleThreshold: z.int().nonnegative().default(0),
  maxBusyScore: z.number().min(0).max(1).default(1),
  /** Deprecated and ignored (llm-d). */
  requestTimeout: z.string().optional(),
  /** Accepted for config compatibility; in-flight counts come from the fleet snapshot. */
  inFlightLoadProducerName: z.string().optional(),
});

export type ActiveRequestParameters = z.output<typeof activeRequestParameters>;

export class ActiveRequestScorer implements Scorer {
  readonly kind = 'scorer';
  readonly type = ACTIVE_REQUEST_SCORER_TYPE;
  readonly category = 'distribution';

  constructor(
    readonly name: string,
    private readonly params: ActiveRequestParameters,
  ) {}

  score(_cycle: SchedulingCycle, candidates: readonly EndpointSnapshot[]): ReadonlyMap<string, number> {
    let max = 0;
    for (const endpoint of candidates) max = Math.max(max, endpoint.inflight.requests);
    const scores = new Map<string, number>();
    for (const endpoint of candidates) {
      const count = endpoint.inflight.requests;
      scores.set(
        endpoint.info.id,
        count <= this.params.idleThreshold ? 1 : ((max - count) / max) * this.params.maxBusyScore,
      );
    }
    return scores;
  }
}

export const activeRequestScorerPlugin = definePlugin({
  type: ACTIVE_REQUEST_SCORER_TYPE,
  kind: 'scorer',
  stability: 'beta',
  summary: 'prefers endpoints with fewer in-flight requests (router-counted)',
  parameters: activeRequestParameters,
  create(params, ctx) {
    if (params.requestTimeout !== undefined)
      ctx.warn(`${ctx.name}: 'requestTimeout' is deprecated and ignored`);
    return new ActiveRequestScorer(ctx.name, params);
  },
});
