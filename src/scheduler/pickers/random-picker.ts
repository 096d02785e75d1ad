/**
 * `random-picker` (Beta; llm-d-router.md §2.6): uniformly random endpoints, ignoring scores.
 */
import { definePlugin } from '../plugin-definition.ts';
import { shuffled } from '../prng.ts';
import type { Picker, ScoredEndpoint, SchedulingCycle } from '../types.ts';
import { pickerParameters } from './picker-parameters.ts';

export const RANDOM_PICKER_TYPE = 'random-picker';

export class RandomPicker implements Picker {
  readonly kind = 'picker';
  readonly type = RANDOM_PICKER_TYPE;

  constructor(
    readonly name: string,
    private readonly maxNumOfEndpoints: number,
  ) {}

  pick(cycle: SchedulingCycle, scored: readonly ScoredEndpoint[]): readonly string[] {
    return shuffled(scored, cycle.random)
      .slice(0, this.maxNumOfEndpoints)
      .map((s) => s.endpoint.info.id);
  }
}

export const randomPickerPlugin = definePlugin({
  type: RANDOM_PICKER_TYPE,
  kind: 'picker',
  stability: 'beta',
  summary: 'picks uniformly at random',
  parameters: pickerParameters,
  create: (params, ctx) => new RandomPicker(ctx.name, params.maxNumOfEndpoints),
});
