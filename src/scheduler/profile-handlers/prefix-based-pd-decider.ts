/**
 * `prefix-based-pd-decider` (Beta; llm-d-router.md §2.3 "Deciders"): disaggregate prefill only when
 * the part of the prompt the decode endpoint does not hold is long enough.
 *
 * - `nonCachedTokens` (default 0) = 0 → never disaggregate;
 * - `promptTokens` (default 0) > 0 and prompt tokens < promptTokens → no;
 * - prompt tokens < nonCachedTokens → no;
 * - cached = matchBlocks × blockSizeTokens of the decode endpoint (no prefix info → no);
 * - disaggregate iff prompt tokens − cached ≥ nonCachedTokens.
 *
 * Prompt tokens: `tokenIds.length` when known, else `promptTokenEstimate`.
 */
import { z } from 'zod';
import { definePlugin } from '../plugin-definition.ts';
import { prefixMatchFor } from '../prefix-cache-match-info.ts';
import type { PdDecider, SchedulingCycle } from '../types.ts';

export const PREFIX_BASED_PD_DECIDER_TYPE = 'prefix-based-pd-decider';

export const prefixBasedPdDeciderParameters = z.strictObject({
  nonCachedTokens: z.int().nonnegative().default(0),
  promptTokens: z.int().nonnegative().default(0),
});

export type PrefixBasedPdDeciderParameters = z.output<typeof prefixBasedPdDeciderParameters>;

export class PrefixBasedPdDecider implements PdDecider {
  readonly kind = 'decider';
  readonly type = PREFIX_BASED_PD_DECIDER_TYPE;

  constructor(
    readonly name: string,
    private readonly params: PrefixBasedPdDeciderParameters,
  ) {}

  disaggregate(cycle: SchedulingCycle, decodeEndpointId: string, prefixProducerName: string): boolean {
    const { nonCachedTokens, promptTokens } = this.params;
    if (nonCachedTokens === 0) return false;
    const tokens = cycle.request.tokenIds?.length ?? cycle.request.promptTokenEstimate;
    if (promptTokens > 0 && tokens < promptTokens) return false;
    if (tokens < nonCachedTokens) return false;
    const info = prefixMatchFor(cycle, prefixProducerName, decodeEndpointId);
    if (!info) {
      cycle.note(this.name, `no prefix info from '${prefixProducerName}'; not disaggregating`);
      return false;
    }
    const uncached = tokens - info.matchBlocks * info.blockSizeTokens;
    cycle.note(
      this.name,
      `${uncached} of ${tokens} prompt tokens not cached on ${decodeEndpointId} (threshold ${nonCachedTokens})`,
    );
    return uncached >= nonCachedTokens;
  }
}

export const prefixBasedPdDeciderPlugin = definePlugin({
  type: PREFIX_BASED_PD_DECIDER_TYPE,
  kind: 'decider',
  stability: 'beta',
  summary: 'disaggregates prefill when the uncached prompt suffix is long enough',
  parameters: prefixBasedPdDeciderParameters,
  create: (params, ctx) => new PrefixBasedPdDecider(ctx.name, params),
});
