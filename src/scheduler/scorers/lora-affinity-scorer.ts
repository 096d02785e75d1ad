/**
 * `lora-affinity-scorer` (Beta, Affinity; llm-d-router.md §2.5) for the request's target model
 * (a LoRA adapter name): active on the endpoint → 1.0; else room to load one more adapter
 * (`active + waiting < maxActiveLoras`) → 0.8; else already waiting → 0.6; else 0. Endpoints
 * without metrics are unscored.
 */
import { z } from 'zod';
import type { EndpointSnapshot } from '../../fleet/types.ts';
import { definePlugin } from '../plugin-definition.ts';
import type { Scorer, SchedulingCycle } from '../types.ts';

export const LORA_AFFINITY_SCORER_TYPE = 'lora-affinity-scorer';

export class LoraAffinityScorer implements Scorer {
  readonly kind = 'scorer';
  readonly type = LORA_AFFINITY_SCORER_TYPE;
  readonly category = 'affinity';

  constructor(readonly name: string) {}

  score(cycle: SchedulingCycle, candidates: readonly EndpointSnapshot[]): ReadonlyMap<string, number> {
    const model = cycle.request.targetModel;
    const scores = new Map<string, number>();
    for (const endpoint of candidates) {
      const m = endpoint.metrics;
      if (!m) continue;
      let score = 0;
      if (m.activeLoras.includes(model)) score = 1;
      else if (m.activeLoras.length + m.waitingLoras.length < (m.maxActiveLoras ?? 0)) score = 0.8;
      else if (m.waitingLoras.includes(model)) score = 0.6;
      scores.set(endpoint.info.id, score);
    }
    return scores;
  }
}

export const loraAffinityScorerPlugin = definePlugin({
  type: LORA_AFFINITY_SCORER_TYPE,
  kind: 'scorer',
  stability: 'beta',
  summary: 'prefers endpoints where the LoRA adapter is active or can be loaded',
  parameters: z.strictObject({}),
  create: (_params, ctx) => new LoraAffinityScorer(ctx.name),
});
