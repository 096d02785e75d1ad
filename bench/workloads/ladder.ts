/**
 * Load ladders placed relative to the simulated fleet's capacity (capacity.ts).
 *
 * llm-d's W1 ladder runs 3 → 60 QPS on hardware where round robin collapses from ~20 QPS and the
 * cache-aware policies hold up to 60 (peer-routers.md §8). Our step-time model gives ideal
 * affinity about twice round robin's capacity on that workload (the published gain is +130%), so a
 * ladder topping out at 3× round robin's saturation (§11's suggestion) would saturate every policy.
 * The default ladder therefore tops out at min(1.8× the cold (cache-blind) capacity, 90% of the
 * warm (ideal affinity) capacity) and, like llm-d's, spends most stages above round robin's
 * saturation: steps at 0.3, 0.55, 0.7, 0.8, 0.9 and 1.0 of the top.
 */
import type { FleetCapacity } from './capacity.ts';
import type { LoadStage } from './types.ts';

/** Fractions of the top rate, one per ladder stage. */
export const LADDER_FRACTIONS: readonly number[] = [0.3, 0.55, 0.7, 0.8, 0.9, 1];
/** The top stage as a multiple of the cold capacity ... */
export const TOP_OF_COLD = 1.8;
/** ... but under this fraction of the warm capacity. */
export const WARM_CAP = 0.9;

/** Rounds a rate to one decimal, never to zero. */
function roundRate(rate: number): number {
  return Math.max(0.1, Math.round(rate * 10) / 10);
}

/** The default ladder: a warm-up at the first step's rate, then {@link LADDER_FRACTIONS} of the top. */
export function capacityLadder(
  capacity: FleetCapacity,
  stageDurationS: number,
  warmupDurationS: number,
): LoadStage[] {
  const top = Math.min(capacity.coldRps * TOP_OF_COLD, capacity.warmRps * WARM_CAP);
  const steps = LADDER_FRACTIONS.map((f) => ({ rate: roundRate(f * top), durationS: stageDurationS }));
  const warmup: LoadStage[] =
    warmupDurationS > 0
      ? [{ rate: (steps[0] as LoadStage).rate, durationS: warmupDurationS, warmup: true }]
      : [];
  return [...warmup, ...steps];
}

/** Explicit stages, a single `--rate` stage, or the computed ladder, with `--duration` applied. */
export function chooseStages(
  options: { rate?: number; ladder?: readonly LoadStage[]; durationS?: number },
  computed: () => LoadStage[],
  defaultSingleDurationS: number,
): LoadStage[] {
  if (options.ladder) {
    return options.ladder.map((s) => (options.durationS ? { ...s, durationS: options.durationS } : s));
  }
  if (options.rate !== undefined) {
    return [{ rate: options.rate, durationS: options.durationS ?? defaultSingleDurationS }];
  }
  const stages = computed();
  return options.durationS
    ? stages.map((s) => (s.warmup ? s : { ...s, durationS: options.durationS as number }))
    : stages;
}
