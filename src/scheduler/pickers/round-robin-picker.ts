/**
 * `round-robin-picker` (kvedge baseline, not in llm-d): ignores scores and cycles through the
 * candidates in endpoint-id order. The cursor lives in a {@link RoundRobinCursor} and advances only
 * when a decision is dispatched.
 */
import { definePlugin } from '../plugin-definition.ts';
import type { DispatchEvent, Picker, ScoredEndpoint, SchedulingCycle } from '../types.ts';
import { pickerParameters } from './picker-parameters.ts';
import type { RoundRobinCursor } from './round-robin-cursor.ts';

export const ROUND_ROBIN_PICKER_TYPE = 'round-robin-picker';

export class RoundRobinPicker implements Picker {
  readonly kind = 'picker';
  readonly type = ROUND_ROBIN_PICKER_TYPE;

  constructor(
    readonly name: string,
    private readonly maxNumOfEndpoints: number,
    private readonly cursor: RoundRobinCursor,
  ) {}

  pick(_cycle: SchedulingCycle, scored: readonly ScoredEndpoint[]): readonly string[] {
    const ids = scored.map((s) => s.endpoint.info.id).sort();
    const n = ids.length;
    const start = this.cursor.value() % Math.max(1, n);
    const out: string[] = [];
    for (let i = 0; i < Math.min(n, this.maxNumOfEndpoints); i++) out.push(ids[(start + i) % n] as string);
    return out;
  }

  onDispatch(_event: DispatchEvent): void {
    this.cursor.advance();
  }
}

export const roundRobinPickerPlugin = definePlugin({
  type: ROUND_ROBIN_PICKER_TYPE,
  kind: 'picker',
  stability: 'kvedge',
  summary: 'cycles through candidates in id order (baseline)',
  parameters: pickerParameters,
  create: (params, ctx) =>
    new RoundRobinPicker(ctx.name, params.maxNumOfEndpoints, ctx.state.roundRobinCursor(ctx.name)),
});
