/**
 * `max-score-picker` (Beta, llm-d's default picker; llm-d-router.md §2.6): the highest total
 * scores win. Candidates are shuffled with the seeded PRNG before a stable sort, so equal scores
 * are broken at random: a burst of requests that see identical scores spreads over the tied
 * endpoints instead of all landing on the first one (llm-d issues GIE#1204, R PR#2515).
 */
import { definePlugin } from '../plugin-definition.ts';
import { shuffled } from '../prng.ts';
import type { Picker, ScoredEndpoint, SchedulingCycle } from '../types.ts';
import { pickerParameters } from './picker-parameters.ts';

export const MAX_SCORE_PICKER_TYPE = 'max-score-picker';

export class MaxScorePicker implements Picker {
  readonly kind = 'picker';
  readonly type = MAX_SCORE_PICKER_TYPE;

  constructor(
    readonly name: string,
    private readonly maxNumOfEndpoints: number,
  ) {}

  pick(cycle: SchedulingCycle, scored: readonly ScoredEndpoint[]): readonly string[] {
    // Array.prototype.sort is stable, so the shuffle order survives among equal scores.
    return shuffled(scored, cycle.random)
      .sort((a, b) => b.score - a.score)
      .slice(0, this.maxNumOfEndpoints)
      .map((s) => s.endpoint.info.id);
  }
}

export const maxScorePickerPlugin = definePlugin({
  type: MAX_SCORE_PICKER_TYPE,
  kind: 'picker',
  stability: 'beta',
  summary: 'picks the highest score, ties broken at random',
  parameters: pickerParameters,
  create: (params, ctx) => new MaxScorePicker(ctx.name, params.maxNumOfEndpoints),
});
