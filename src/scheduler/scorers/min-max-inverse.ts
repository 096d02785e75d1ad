/**
 * Min-max normalization where lower is better, as llm-d's queue and running-requests scorers do
 * (llm-d-router.md §2.5): `(max − v) / (max − min)` over the values present; all equal → 1.0.
 */
export function minMaxInverse(values: ReadonlyMap<string, number>): Map<string, number> {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values.values()) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const scores = new Map<string, number>();
  for (const [id, v] of values) scores.set(id, max === min ? 1 : (max - v) / (max - min));
  return scores;
}
