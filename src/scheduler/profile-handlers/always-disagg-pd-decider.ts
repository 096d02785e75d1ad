/**
 * `always-disagg-pd-decider` (Beta; llm-d-router.md §2.3 "Deciders"): always disaggregates.
 */
import { z } from 'zod';
import { definePlugin } from '../plugin-definition.ts';
import type { PdDecider } from '../types.ts';

export const ALWAYS_DISAGG_PD_DECIDER_TYPE = 'always-disagg-pd-decider';

export class AlwaysDisaggPdDecider implements PdDecider {
  readonly kind = 'decider';
  readonly type = ALWAYS_DISAGG_PD_DECIDER_TYPE;

  constructor(readonly name: string) {}

  disaggregate(): boolean {
    return true;
  }
}

export const alwaysDisaggPdDeciderPlugin = definePlugin({
  type: ALWAYS_DISAGG_PD_DECIDER_TYPE,
  kind: 'decider',
  stability: 'beta',
  summary: 'always disaggregates',
  parameters: z.strictObject({}),
  create: (_params, ctx) => new AlwaysDisaggPdDecider(ctx.name),
});
