/** Summary statistics of how evenly work spread over pods. */

/** Arithmetic mean; NaN when empty. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/**
 * Coefficient of variation (population standard deviation / mean): 0 = perfectly even. The form
 * peer-routers.md §11 asks for as "per-pod load spread". NaN when empty or the mean is 0.
 */
export function coefficientOfVariation(values: readonly number[]): number {
  const m = mean(values);
  if (!(m > 0)) return Number.NaN;
  let squares = 0;
  for (const v of values) squares += (v - m) ** 2;
  return Math.sqrt(squares / values.length) / m;
}

/** max / min (Infinity when some value is 0 and another is not; NaN when empty or all 0). */
export function maxOverMin(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const max = Math.max(...values);
  const min = Math.min(...values);
  if (max === 0) return Number.NaN;
  return min === 0 ? Number.POSITIVE_INFINITY : max / min;
}
