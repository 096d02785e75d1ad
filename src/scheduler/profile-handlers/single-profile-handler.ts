/**
 * `single-profile-handler` (Beta; llm-d-router.md §2.3): runs the only profile once; it is the
 * primary profile. Auto-added by the loader when a config has one profile and no handler.
 */
import { z } from 'zod';
import { definePlugin } from '../plugin-definition.ts';
import { NO_ENDPOINTS_AVAILABLE } from '../profile-runner.ts';
import { SchedulingError } from '../types.ts';
import type {
  ProfileHandler,
  ProfileRunResult,
  SchedulingCycle,
  SchedulingProfile,
  SchedulingResult,
} from '../types.ts';

export const SINGLE_PROFILE_HANDLER_TYPE = 'single-profile-handler';

export class SingleProfileHandler implements ProfileHandler {
  readonly kind = 'profile-handler';
  readonly type = SINGLE_PROFILE_HANDLER_TYPE;

  constructor(readonly name: string) {}

  pick(
    _cycle: SchedulingCycle,
    profiles: ReadonlyMap<string, SchedulingProfile>,
    results: ReadonlyMap<string, ProfileRunResult | null>,
  ): readonly string[] {
    if (results.size > 0) return [];
    const first = profiles.keys().next();
    return first.done ? [] : [first.value];
  }

  processResults(
    _cycle: SchedulingCycle,
    results: ReadonlyMap<string, ProfileRunResult | null>,
  ): SchedulingResult {
    const entry = results.entries().next();
    const [name, result] = entry.done ? ['', null] : entry.value;
    if (!result) throw new SchedulingError(NO_ENDPOINTS_AVAILABLE);
    return { primaryProfileName: name, profileResults: new Map([[name, result]]) };
  }
}

export const singleProfileHandlerPlugin = definePlugin({
  type: SINGLE_PROFILE_HANDLER_TYPE,
  kind: 'profile-handler',
  stability: 'beta',
  summary: 'runs the single scheduling profile',
  parameters: z.strictObject({}),
  create: (_params, ctx) => new SingleProfileHandler(ctx.name),
});
