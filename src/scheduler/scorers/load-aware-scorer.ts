/**
 * `load-aware-scorer` (Beta, Distribution; llm-d-router.md §2.5): on waiting-queue depth q with
 * `threshold` T (default 128): q = 0 → 0.5; q ≥ T → 0; else `0.5 · (1 − q/T)`. The maximum is 0.5
 * by llm-d's design. Endpoints without metrics are unscored.
 */
import { z } from 'zod';
import type { EndpointSnapshot } from '../../fleet/types.ts';
import { definePlugin } from '../plugin-definition.ts';
import type { Scorer, SchedulingCycle } from '../types.ts';

export const LOAD_AWARE_SCORER_TYPE = 'load-aware-scorer';

export const loadAwareParameters = z.strictObject({ threshold: z.int().positive().default(128) });

export class LoadAwareScorer implements Scorer {
  readonly kind = 'scorer';
  readonly type = LOAD_AWARE_SCORER_TYPE;
  readonly category = 'distribution';

  constructor(
    readonly name: string,
    private readonly threshold: number,
  ) {}

  score(_cycle: SchedulingCycle, candidates: readonly EndpointSnapshot[]): ReadonlyMap<string, number> {
    const scores = new Map<string, number>();
    for (const endpoint of candidates) {
      if (!endpoint.metrics) continue;
      const q = endpoint.metrics.waitingQueueSize;
      scores.set(endpoint.info.id, q === 0 ? 0.5 : q >= this.threshold ? 0 : 0.5 * (1 - q / this.threshold));
    }
    return scores;
  }
}

export const loadAwareScorerPlugin = definePlugin({
  type: LOAD_AWARE_SCORER_TYPE,
  kind: 'scorer',
  stability: 'beta',
  summary: 'queue-depth score capped at 0.5, zero at the threshold',
  parameters: loadAwareParameters,
  create: (params, ctx) => new LoadAwareScorer(ctx.name, params.threshold),
});
