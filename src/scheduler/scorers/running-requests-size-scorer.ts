/**
 * `running-requests-size-scorer` (Beta, Distribution; llm-d-router.md §2.5): running-request
 * count min-max normalized across candidates like `queue-scorer`; all equal → 1.0; endpoints
 * without metrics unscored.
 */
import { z } from 'zod';
import type { EndpointSnapshot } from '../../fleet/types.ts';
import { definePlugin } from '../plugin-definition.ts';
import type { Scorer, SchedulingCycle } from '../types.ts';
import { minMaxInverse } from './min-max-inverse.ts';

export const RUNNING_REQUESTS_SIZE_SCORER_TYPE = 'running-requests-size-scorer';

export class RunningRequestsSizeScorer implements Scorer {
  readonly kind = 'scorer';
  readonly type = RUNNING_REQUESTS_SIZE_SCORER_TYPE;
  readonly category = 'distribution';

  constructor(readonly name: string) {}

  score(_cycle: SchedulingCycle, candidates: readonly EndpointSnapshot[]): ReadonlyMap<string, number> {
    const running = new Map<string, number>();
    for (const endpoint of candidates) {
      if (endpoint.metrics) running.set(endpoint.info.id, endpoint.metrics.runningRequestsSize);
    }
    return minMaxInverse(running);
  }
}

export const runningRequestsSizeScorerPlugin = definePlugin({
  type: RUNNING_REQUESTS_SIZE_SCORER_TYPE,
  kind: 'scorer',
  stability: 'beta',
  summary: 'prefers fewer running requests (min-max normalized)',
  parameters: z.strictObject({}),
  create: (_params, ctx) => new RunningRequestsSizeScorer(ctx.name),
});
