/**
 * `token-load-scorer` (Beta, Distribution; llm-d-router.md §2.5): `1 − min(1, inflightTokens / T)`
 * with `queueThresholdTokens` T (default 4194304); in-flight tokens are the router's dispatch-time
 * count (`snapshot.inflight.tokens`).
 */
import { z } from 'zod';
import type { EndpointSnapshot } from '../../fleet/types.ts';
import { definePlugin } from '../plugin-definition.ts';
import type { Scorer, SchedulingCycle } from '../types.ts';

export const TOKEN_LOAD_SCORER_TYPE = 'token-load-scorer';

export const tokenLoadParameters = z.strictObject({
  queueThresholdTokens: z.int().positive().default(4194304),
  /** Accepted for config compatibility; in-flight tokens come from the fleet snapshot. */
  inFlightLoadProducerName: z.string().optional(),
});

export class TokenLoadScorer implements Scorer {
  readonly kind = 'scorer';
  readonly type = TOKEN_LOAD_SCORER_TYPE;
  readonly category = 'distribution';

  constructor(
    readonly name: string,
    private readonly thresholdTokens: number,
  ) {}

  score(_cycle: SchedulingCycle, candidates: readonly EndpointSnapshot[]): ReadonlyMap<string, number> {
    const scores = new Map<string, number>();
    for (const endpoint of candidates) {
      scores.set(endpoint.info.id, 1 - Math.min(1, endpoint.inflight.tokens / this.thresholdTokens));
    }
    return scores;
  }
}

export const tokenLoadScorerPlugin = definePlugin({
  type: TOKEN_LOAD_SCORER_TYPE,
  kind: 'scorer',
  stability: 'beta',
  summary: 'prefers endpoints with fewer in-flight tokens',
  parameters: tokenLoadParameters,
  create: (params, ctx) => new TokenLoadScorer(ctx.name, params.queueThresholdTokens),
});
