/**
 * `no-hit-lru-scorer` (Beta, Distribution; llm-d-router.md §2.5). Spreads cold requests — those no
 * candidate has any prefix block for — so new cache contents grow evenly: if any candidate has
 * `matchBlocks > 0`, every candidate scores a neutral 0.5; otherwise endpoints that never got a
 * cold request rank first (in candidate order), then the others from least to most recently used,
 * and `score = max(0, 1 − rank / (n − 1))` (a single candidate scores 1). Only cold requests move
 * the LRU, at dispatch: the primary target and, if a profile named `prefill` ran, its target.
 */
import { z } from 'zod';
import type { EndpointSnapshot } from '../../fleet/types.ts';
import { definePlugin } from '../plugin-definition.ts';
import { DEFAULT_PREFIX_PRODUCER_NAME, type PrefixMatchData } from '../prefix-cache-match-info.ts';
import type { DispatchEvent, Scorer, SchedulingCycle } from '../types.ts';
import type { NoHitLruStore } from './no-hit-lru-store.ts';

export const NO_HIT_LRU_SCORER_TYPE = 'no-hit-lru-scorer';

export const noHitLruParameters = z.strictObject({
  /** Deprecated and unused (llm-d). */
  prefixPluginType: z.string().optional(),
  /** Deprecated and unused (llm-d). */
  prefixPluginName: z.string().optional(),
  lruSize: z.int().positive().default(1024),
  prefixMatchInfoProducerName: z.string().min(1).default(DEFAULT_PREFIX_PRODUCER_NAME),
});

export type NoHitLruParameters = z.output<typeof noHitLruParameters>;

interface ColdState {
  readonly cold: boolean;
}

export class NoHitLruScorer implements Scorer {
  readonly kind = 'scorer';
  readonly type = NO_HIT_LRU_SCORER_TYPE;
  readonly category = 'distribution';

  constructor(
    readonly name: string,
    private readonly producerName: string,
    private readonly lru: NoHitLruStore,
  ) {}

  score(cycle: SchedulingCycle, candidates: readonly EndpointSnapshot[]): ReadonlyMap<string, number> {
    const data = cycle.producerData<PrefixMatchData>(this.producerName);
    const cold = !candidates.some((endpoint) => (data?.matches.get(endpoint.info.id) ?? 0) > 0);
    cycle.setPluginState(this.name, { cold } satisfies ColdState);
    const scores = new Map<string, number>();
    if (!cold) {
      for (const endpoint of candidates) scores.set(endpoint.info.id, 0.5);
      return scores;
    }
    const n = candidates.length;
    if (n === 1) {
      scores.set((candidates[0] as EndpointSnapshot).info.id, 1);
      return scores;
    }
    const position = new Map<string, number>();
    this.lru.order().forEach((id, index) => position.set(id, index));
    const neverUsed = candidates.filter((endpoint) => !position.has(endpoint.info.id));
    neverUsed.forEach((endpoint, rank) => scores.set(endpoint.info.id, 1 - rank / (n - 1)));
    for (const endpoint of candidates) {
      const lruPosition = position.get(endpoint.info.id);
      if (lruPosition === undefined) continue;
      const rank = neverUsed.length + lruPosition;
      scores.set(endpoint.info.id, Math.max(0, 1 - rank / (n - 1)));
    }
    return scores;
  }

  onDispatch(event: DispatchEvent): void {
    const state = event.decision.state.pluginState.get(this.name) as ColdState | undefined;
    if (!state?.cold) return;
    if (event.decision.endpointId) this.lru.touch(event.decision.endpointId);
    const prefill = event.decision.profileResults['prefill']?.targets[0];
    if (prefill) this.lru.touch(prefill);
  }

  retainEndpoints(activeIds: ReadonlySet<string>): void {
    for (const id of this.lru.order()) if (!activeIds.has(id)) this.lru.removeEndpoint(id);
  }
}

export const noHitLruScorerPlugin = definePlugin({
  type: NO_HIT_LRU_SCORER_TYPE,
  kind: 'scorer',
  stability: 'beta',
  summary: 'spreads cold (no prefix hit) requests over least recently used endpoints',
  parameters: noHitLruParameters,
  create(params, ctx) {
    if (params.prefixPluginType !== undefined || params.prefixPluginName !== undefined) {
      ctx.warn(`${ctx.name}: 'prefixPluginType'/'prefixPluginName' are deprecated and ignored`);
    }
    return new NoHitLruScorer(
      ctx.name,
      params.prefixMatchInfoProducerName,
      ctx.state.noHitLru(ctx.name, params.lruSize),
    );
  },
  consumesProducers: (params) => [params.prefixMatchInfoProducerName],
});
