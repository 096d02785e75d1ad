/**
 * `prefix-cache-scorer` (Beta, Affinity; llm-d-router.md §2.5): scores each endpoint from the
 * `PrefixCacheMatchInfo` of the producer named `prefixMatchInfoProducerName` (default: the
 * approximate producer, auto-created when absent):
 *
 *   score = w · min(1, matchBlocks · blockSize / matchLengthScaleTokens)² + (1 − w) · matchBlocks / totalBlocks
 *
 * with w = `matchLengthWeight` (default 0, i.e. the plain matched fraction) and
 * `matchLengthScaleTokens` default 8192. No info (or an empty prompt) scores 0.
 */
import { z } from 'zod';
import type { EndpointSnapshot } from '../../fleet/types.ts';
import { definePlugin } from '../plugin-definition.ts';
import { DEFAULT_PREFIX_PRODUCER_NAME, type PrefixMatchData } from '../prefix-cache-match-info.ts';
import type { Scorer, SchedulingCycle } from '../types.ts';

export const PREFIX_CACHE_SCORER_TYPE = 'prefix-cache-scorer';

export const prefixCacheScorerParameters = z.strictObject({
  matchLengthWeight: z.number().min(0).max(1).default(0),
  matchLengthScaleTokens: z.number().positive().default(8192),
  prefixMatchInfoProducerName: z.string().min(1).default(DEFAULT_PREFIX_PRODUCER_NAME),
});

export type PrefixCacheScorerParameters = z.output<typeof prefixCacheScorerParameters>;

export class PrefixCacheScorer implements Scorer {
  readonly kind = 'scorer';
  readonly type = PREFIX_CACHE_SCORER_TYPE;
  readonly category = 'affinity';

  constructor(
    readonly name: string,
    private readonly params: PrefixCacheScorerParameters,
  ) {}

  score(cycle: SchedulingCycle, candidates: readonly EndpointSnapshot[]): ReadonlyMap<string, number> {
    const { matchLengthWeight: w, matchLengthScaleTokens: scale, prefixMatchInfoProducerName } = this.params;
    const data = cycle.producerData<PrefixMatchData>(prefixMatchInfoProducerName);
    const scores = new Map<string, number>();
    if (!data)
      cycle.note(this.name, `no prefix info from '${prefixMatchInfoProducerName}'; all endpoints score 0`);
    for (const endpoint of candidates) {
      if (!data || data.totalBlocks === 0) {
        scores.set(endpoint.info.id, 0);
        continue;
      }
      const matched = data.matches.get(endpoint.info.id) ?? 0;
      const lengthTerm = Math.min(1, (matched * data.blockSizeTokens) / scale) ** 2;
      scores.set(endpoint.info.id, w * lengthTerm + (1 - w) * (matched / data.totalBlocks));
    }
    return scores;
  }
}

export const prefixCacheScorerPlugin = definePlugin({
  type: PREFIX_CACHE_SCORER_TYPE,
  kind: 'scorer',
  stability: 'beta',
  summary: 'prefers endpoints holding more of the prompt prefix',
  parameters: prefixCacheScorerParameters,
  create: (params, ctx) => new PrefixCacheScorer(ctx.name, params),
  consumesProducers: (params) => [params.prefixMatchInfoProducerName],
});
