/**
 * `kv-cache-utilization-scorer` (Beta, Distribution; llm-d-router.md §2.5): `1 − kvCacheUsage`
 * (usage as a 0..1 fraction). Endpoints without metrics are unscored.
 */
import { z } from 'zod';
import type { EndpointSnapshot } from '../../fleet/types.ts';
import { definePlugin } from '../plugin-definition.ts';
import type { Scorer, SchedulingCycle } from '../types.ts';

export const KV_CACHE_UTILIZATION_SCORER_TYPE = 'kv-cache-utilization-scorer';

export class KvCacheUtilizationScorer implements Scorer {
  readonly kind = 'scorer';
  readonly type = KV_CACHE_UTILIZATION_SCORER_TYPE;
  readonly category = 'distribution';

  constructor(readonly name: string) {}

  score(_cycle: SchedulingCycle, candidates: readonly EndpointSnapshot[]): ReadonlyMap<string, number> {
    const scores = new Map<string, number>();
    for (const endpoint of candidates) {
      if (endpoint.metrics) scores.set(endpoint.info.id, 1 - endpoint.metrics.kvCacheUsagePercent);
    }
    return scores;
  }
}

export const kvCacheUtilizationScorerPlugin = definePlugin({
  type: KV_CACHE_UTILIZATION_SCORER_TYPE,
  kind: 'scorer',
  stability: 'beta',
  summary: 'prefers endpoints with free KV cache (1 − usage)',
  parameters: z.strictObject({}),
  create: (_params, ctx) => new KvCacheUtilizationScorer(ctx.name),
});
