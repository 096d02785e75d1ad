/**
 * `disagg-profile-handler` (Beta; llm-d-router.md §2.3): prefill/decode (and encode)
 * disaggregation across profiles selected by role filters.
 *
 * `decode-first` (default): run decode; if it failed, stop ("failed to find available decode
 * workers"); then, for each stage with a decider configured (`deciders.encode`, then
 * `deciders.prefill`; unset = stage disabled), ask the decider — which sees the decode pick — and
 * run the stage's profile if it approves. The prefill profile sees the decode pick as the
 * `peer-endpoint` request attribute. `prefill-first`: run prefill, then decode (a prefill decider
 * is not allowed). Decode is the primary profile; `x-prefiller-host-port` / `x-encoder-hosts-ports`
 * tell the decode sidecar where the other stages ran.
 *
 * Legacy flat parameters (`decodeProfile`, `prefillProfile`, `encodeProfile`,
 * `prefillDeciderPluginName`, `deciderPluginName`, `encodeDeciderPluginName`) are accepted with a
 * warning. Deciders read the default approximate producer's `PrefixCacheMatchInfo`, which the
 * loader auto-creates.
 */
import { z } from 'zod';
import type { PluginBuildContext } from '../plugin-definition.ts';
import { definePlugin } from '../plugin-definition.ts';
import { DEFAULT_PREFIX_PRODUCER_NAME } from '../prefix-cache-match-info.ts';
import type {
  DecisionHeaders,
  PdDecider,
  ProfileHandler,
  ProfileRunResult,
  SchedulingCycle,
  SchedulingProfile,
  SchedulingResult,
} from '../types.ts';
import {
  disaggHeaders,
  disaggResult,
  PEER_ENDPOINT_ATTRIBUTE,
  type DisaggProfiles,
} from './disagg-result.ts';

export const DISAGG_PROFILE_HANDLER_TYPE = 'disagg-profile-handler';

export const disaggProfileHandlerParameters = z.strictObject({
  profiles: z
    .strictObject({
      decode: z.string().min(1).default('decode'),
      prefill: z.string().min(1).default('prefill'),
      encode: z.string().min(1).default('encode'),
    })
    .prefault({}),
  deciders: z
    .strictObject({ prefill: z.string().min(1).optional(), encode: z.string().min(1).optional() })
    .prefault({}),
  stageOrder: z.enum(['decode-first', 'prefill-first']).default('decode-first'),
  decodeProfile: z.string().min(1).optional(),
  prefillProfile: z.string().min(1).optional(),
  encodeProfile: z.string().min(1).optional(),
  prefillDeciderPluginName: z.string().min(1).optional(),
  deciderPluginName: z.string().min(1).optional(),
  encodeDeciderPluginName: z.string().min(1).optional(),
});

export type DisaggProfileHandlerParameters = z.output<typeof disaggProfileHandlerParameters>;

/** Resolved wiring of a disagg handler. */
export interface DisaggStages {
  readonly profiles: DisaggProfiles;
  readonly prefillDecider?: PdDecider;
  readonly encodeDecider?: PdDecider;
  readonly stageOrder: 'decode-first' | 'prefill-first';
  readonly prefixProducerName: string;
}

/** Per-cycle record of stages already decided, so a rejected stage is not asked twice. */
interface StageDecisions {
  encode?: boolean;
  prefill?: boolean;
}

export class DisaggProfileHandler implements ProfileHandler {
  readonly kind = 'profile-handler';
  readonly type: string = DISAGG_PROFILE_HANDLER_TYPE;

  constructor(
    readonly name: string,
    private readonly stages: DisaggStages,
  ) {}

  pick(
    cycle: SchedulingCycle,
    profiles: ReadonlyMap<string, SchedulingProfile>,
    results: ReadonlyMap<string, ProfileRunResult | null>,
  ): readonly string[] {
    const { decode, prefill, encode } = this.stages.profiles;
    if (this.stages.stageOrder === 'prefill-first') {
      if (profiles.has(prefill) && !results.has(prefill)) return [prefill];
      return results.has(decode) ? [] : [decode];
    }
    if (!results.has(decode)) return [decode];
    const decodeTarget = results.get(decode)?.targets[0];
    if (decodeTarget === undefined) return [];
    let decided = cycle.pluginState<StageDecisions>(this.name);
    if (!decided) {
      decided = {};
      cycle.setPluginState(this.name, decided);
    }
    if (
      this.stages.encodeDecider &&
      encode !== undefined &&
      profiles.has(encode) &&
      decided.encode === undefined
    ) {
      decided.encode = this.stages.encodeDecider.disaggregate(
        cycle,
        decodeTarget,
        this.stages.prefixProducerName,
      );
      if (decided.encode) return [encode];
    }
    if (this.stages.prefillDecider && profiles.has(prefill) && decided.prefill === undefined) {
      decided.prefill = this.stages.prefillDecider.disaggregate(
        cycle,
        decodeTarget,
        this.stages.prefixProducerName,
      );
      if (decided.prefill) {
        cycle.attributes.set(PEER_ENDPOINT_ATTRIBUTE, decodeTarget);
        return [prefill];
      }
    }
    return [];
  }

  checkProfiles(profileNames: ReadonlySet<string>): readonly string[] {
    const { decode, prefill, encode } = this.stages.profiles;
    const defined = [...profileNames].join(', ');
    const problems: string[] = [];
    if (!profileNames.has(decode))
      problems.push(`decode profile '${decode}' is not defined (profiles: ${defined})`);
    if (this.stages.prefillDecider && !profileNames.has(prefill)) {
      problems.push(`prefill profile '${prefill}' is not defined (profiles: ${defined})`);
    }
    if (this.stages.encodeDecider && (encode === undefined || !profileNames.has(encode))) {
      problems.push(`encode profile '${encode ?? ''}' is not defined (profiles: ${defined})`);
    }
    return problems;
  }

  processResults(
    cycle: SchedulingCycle,
    results: ReadonlyMap<string, ProfileRunResult | null>,
  ): SchedulingResult {
    return disaggResult(cycle, this.name, this.stages.profiles, results);
  }

  contributeHeaders(_cycle: SchedulingCycle, result: SchedulingResult, headers: DecisionHeaders): void {
    disaggHeaders(this.stages.profiles, result, headers);
  }
}

/** Finds the decider plugin named `name`, or throws a message listing the configured ones. */
export function resolveDecider(
  ctx: PluginBuildContext,
  name: string,
  parameter: string,
  hint = '',
): PdDecider {
  const plugin = ctx.lookup(name);
  if (plugin?.kind === 'decider') return plugin;
  const deciders = ctx.pluginNames().filter((n) => ctx.lookup(n)?.kind === 'decider');
  throw new Error(
    `${parameter} '${name}' is not a configured decider plugin` +
      ` (configured deciders: ${deciders.length > 0 ? deciders.join(', ') : 'none'};` +
      ` decider types: prefix-based-pd-decider, always-disagg-pd-decider)${hint}`,
  );
}

export const disaggProfileHandlerPlugin = definePlugin({
  type: DISAGG_PROFILE_HANDLER_TYPE,
  kind: 'profile-handler',
  stability: 'beta',
  summary: 'decode-first P/D (and E/P/D) disaggregation driven by decider plugins',
  parameters: disaggProfileHandlerParameters,
  create(params, ctx) {
    const legacy = [
      'decodeProfile',
      'prefillProfile',
      'encodeProfile',
      'prefillDeciderPluginName',
      'deciderPluginName',
      'encodeDeciderPluginName',
    ] as const;
    if (legacy.some((key) => params[key] !== undefined)) {
      ctx.warn(
        `${ctx.name}: flat parameters (${legacy.join(', ')}) are deprecated; use profiles.* and deciders.*`,
      );
    }
    const prefillDeciderName =
      params.deciders.prefill ?? params.prefillDeciderPluginName ?? params.deciderPluginName;
    const encodeDeciderName = params.deciders.encode ?? params.encodeDeciderPluginName;
    if (params.stageOrder === 'prefill-first' && prefillDeciderName !== undefined) {
      throw new Error("a prefill decider is not allowed with stageOrder 'prefill-first'");
    }
    return new DisaggProfileHandler(ctx.name, {
      profiles: {
        decode: params.decodeProfile ?? params.profiles.decode,
        prefill: params.prefillProfile ?? params.profiles.prefill,
        encode: params.encodeProfile ?? params.profiles.encode,
      },
      ...(prefillDeciderName === undefined
        ? {}
        : { prefillDecider: resolveDecider(ctx, prefillDeciderName, 'deciders.prefill') }),
      ...(encodeDeciderName === undefined
        ? {}
        : { encodeDecider: resolveDecider(ctx, encodeDeciderName, 'deciders.encode') }),
      stageOrder: params.stageOrder,
      prefixProducerName: DEFAULT_PREFIX_PRODUCER_NAME,
    });
  },
  consumesProducers: () => [DEFAULT_PREFIX_PRODUCER_NAME],
});
