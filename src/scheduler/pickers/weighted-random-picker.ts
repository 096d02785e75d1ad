/**
 * `weighted-random-picker` (Beta; llm-d-router.md §2.6): samples endpoints with probability
 * proportional to score, without replacement, by A-Res (Efraimidis–Spirakis): each endpoint draws
 * key = U^(1/score) with U uniform in (0, 1) (a 0 draw becomes 1e-10) and the largest keys win.
 * Endpoints scoring ≤ 0 come last; if every score is ≤ 0 the pick is uniformly random.
 */
import { definePlugin } from '../plugin-definition.ts';
import { shuffled } from '../prng.ts';
import type { Picker, ScoredEndpoint, SchedulingCycle } from '../types.ts';
import { pickerParameters } from './picker-parameters.ts';

export const WEIGHTED_RANDOM_PICKER_TYPE = 'weighted-random-picker';

export class WeightedRandomPicker implements Picker {
  readonly kind = 'picker';
  readonly type = WEIGHTED_RANDOM_PICKER_TYPE;

  constructor(
    readonly name: string,
    private readonly maxNumOfEndpoints: number,
  ) {}

  pick(cycle: SchedulingCycle, scored: readonly ScoredEndpoint[]): readonly string[] {
    const order = shuffled(scored, cycle.random);
    if (!order.some((s) => s.score > 0)) {
      return order.slice(0, this.maxNumOfEndpoints).map((s) => s.endpoint.info.id);
    }
    const keyed = order.map((s) => {
      const u = cycle.random.next() || 1e-10;
      return { id: s.endpoint.info.id, key: s.score > 0 ? u ** (1 / s.score) : -1 };
    });
    keyed.sort((a, b) => b.key - a.key);
    return keyed.slice(0, this.maxNumOfEndpoints).map((k) => k.id);
  }
}

export const weightedRandomPickerPlugin = definePlugin({
  type: WEIGHTED_RANDOM_PICKER_TYPE,
  kind: 'picker',
  stability: 'beta',
  summary: 'picks at random with probability proportional to score',
  parameters: pickerParameters,
  create: (params, ctx) => new WeightedRandomPicker(ctx.name, params.maxNumOfEndpoints),
});
