/**
 * `queue-scorer` (Beta, Distribution; llm-d-router.md §2.5): waiting-queue depth min-max
 * normalized across candidates, `(maxQ − q) / (maxQ − minQ)`; all equal → 1.0. Endpoints without
 * scraped metrics are left unscored and do not enter the range (current llm-d behaviour).
 */
import { z } from 'zod';
import type { EndpointSnapshot } from '../../fleet/types.ts';
import { definePlugin } from '../plugin-definition.ts';
import type { Scorer, SchedulingCycle } from '../types.ts';
import { minMaxInverse } from './min-max-inverse.ts';

export const QUEUE_SCORER_TYPE = 'queue-scorer';

export class QueueScorer implements Scorer {
  readonly kind = 'scorer';
  readonly type = QUEUE_SCORER_TYPE;
  readonly category = 'distribution';

  constructor(readonly name: string) {}

  score(_cycle: SchedulingCycle, candidates: readonly EndpointSnapshot[]): ReadonlyMap<string, number> {
    const queues = new Map<string, number>();
    for (const endpoint of candidates) {
      if (endpoint.metrics) queues.set(endpoint.info.id, endpoint.metrics.waitingQueueSize);
    }
    return minMaxInverse(queues);
  }
}

export const queueScorerPlugin = definePlugin({
  type: QUEUE_SCORER_TYPE,
  kind: 'scorer',
  stability: 'beta',
  summary: 'prefers shorter waiting queues (min-max normalized)',
  parameters: z.strictObject({}),
  create: (_params, ctx) => new QueueScorer(ctx.name),
});
