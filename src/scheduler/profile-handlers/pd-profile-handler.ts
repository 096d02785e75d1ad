/**
 * `pd-profile-handler` (deprecated since llm-d v0.7 in favour of `disagg-profile-handler`;
 * llm-d-router.md §2.3): decode-first P/D with one decider.
 *
 * Runs `decodeProfile` (default `decode`); if it succeeded and `prefillProfile` (default
 * `prefill`) exists, asks the decider named `deciderPluginName` (default `prefix-based-pd-decider`)
 * and runs prefill when it approves. The decider reads `PrefixCacheMatchInfo` from
 * `prefixMatchInfoProducerName` (default the approximate producer).
 *
 * Older configs carried `threshold` (and `hashBlockSize`) instead of a decider plugin: when no
 * decider plugin by that name is configured and `threshold` is set, a built-in decider applies it —
 * 0 means always disaggregate, otherwise disaggregate when at least `threshold` prompt tokens are
 * not cached on the decode endpoint. `primaryPort` (non-zero) adds `x-data-parallel-host-port` with
 * the decode pick; endpoint ids are not rewritten to that port. `prefixPluginType` /
 * `prefixPluginName` / `hashBlockSize` are accepted and ignored.
 */
import { z } from 'zod';
import { definePlugin } from '../plugin-definition.ts';
import { DEFAULT_PREFIX_PRODUCER_NAME } from '../prefix-cache-match-info.ts';
import type { DecisionHeaders, PdDecider, SchedulingCycle, SchedulingResult } from '../types.ts';
import { AlwaysDisaggPdDecider } from './always-disagg-pd-decider.ts';
import { DisaggProfileHandler, resolveDecider } from './disagg-profile-handler.ts';
import { PREFIX_BASED_PD_DECIDER_TYPE, PrefixBasedPdDecider } from './prefix-based-pd-decider.ts';

export const PD_PROFILE_HANDLER_TYPE = 'pd-profile-handler';
export const DATA_PARALLEL_HEADER = 'x-data-parallel-host-port';

export const pdProfileHandlerParameters = z.strictObject({
  decodeProfile: z.string().min(1).default('decode'),
  prefillProfile: z.string().min(1).default('prefill'),
  prefixPluginType: z.string().default('prefix-cache-scorer'),
  prefixPluginName: z.string().optional(),
  primaryPort: z.int().min(0).max(65535).default(0),
  deciderPluginName: z.string().min(1).default(PREFIX_BASED_PD_DECIDER_TYPE),
  prefixMatchInfoProducerName: z.string().min(1).default(DEFAULT_PREFIX_PRODUCER_NAME),
  threshold: z.int().nonnegative().optional(),
  hashBlockSize: z.int().positive().optional(),
});

export class PdProfileHandler extends DisaggProfileHandler {
  override readonly type = PD_PROFILE_HANDLER_TYPE;

  constructor(
    name: string,
    decodeProfile: string,
    prefillProfile: string,
    decider: PdDecider,
    prefixProducerName: string,
    private readonly primaryPort: number,
  ) {
    super(name, {
      profiles: { decode: decodeProfile, prefill: prefillProfile },
      prefillDecider: decider,
      stageOrder: 'decode-first',
      prefixProducerName,
    });
  }

  override contributeHeaders(
    cycle: SchedulingCycle,
    result: SchedulingResult,
    headers: DecisionHeaders,
  ): void {
    super.contributeHeaders(cycle, result, headers);
    const decode = result.profileResults.get(result.primaryProfileName)?.targets[0];
    if (this.primaryPort !== 0 && decode) headers.request[DATA_PARALLEL_HEADER] = decode;
  }
}

export const pdProfileHandlerPlugin = definePlugin({
  type: PD_PROFILE_HANDLER_TYPE,
  kind: 'profile-handler',
  stability: 'deprecated',
  replacedBy: 'disagg-profile-handler',
  summary: 'decode-first P/D disaggregation with one decider (deprecated)',
  parameters: pdProfileHandlerParameters,
  create(params, ctx) {
    let decider: PdDecider;
    const configured = ctx.lookup(params.deciderPluginName);
    if (configured?.kind === 'decider' || params.threshold === undefined) {
      decider = resolveDecider(
        ctx,
        params.deciderPluginName,
        'deciderPluginName',
        "; or set the legacy 'threshold'",
      );
    } else if (params.threshold === 0) {
      decider = new AlwaysDisaggPdDecider(`${ctx.name}/threshold`);
    } else {
      decider = new PrefixBasedPdDecider(`${ctx.name}/threshold`, {
        nonCachedTokens: params.threshold,
        promptTokens: 0,
      });
    }
    if (params.hashBlockSize !== undefined) ctx.warn(`${ctx.name}: 'hashBlockSize' is obsolete and ignored`);
    return new PdProfileHandler(
      ctx.name,
      params.decodeProfile,
      params.prefillProfile,
      decider,
      params.prefixMatchInfoProducerName,
      params.primaryPort,
    );
  },
  consumesProducers: (params) => [params.prefixMatchInfoProducerName],
});
