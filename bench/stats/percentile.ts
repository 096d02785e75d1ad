/**
 * Percentiles by linear interpolation between closest ranks: for a sorted sample x[0..n-1] and a
 * fraction p in [0, 1], the value at rank h = (n - 1) * p, interpolated between x[floor(h)] and
 * x[ceil(h)]. This is Hyndman & Fan's type 7, numpy's default `percentile(..., method='linear')`,
 * which inference-perf uses for its reports, so our p90 and theirs mean the same thing.
 */

/** Ascending copy of `values` (a Float64Array sorts numerically, unlike `Array#sort`). */
export function sortedCopy(values: ArrayLike<number> | Iterable<number>): Float64Array {
  const copy = Float64Array.from(values as ArrayLike<number>);
  copy.sort();
  return copy;
}

/**
 * The `p`-quantile (p in [0, 1]) of an ascending sample; NaN when the sample is empty.
 * @throws RangeError when p is outside [0, 1]
 */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`quantile fraction must be in [0, 1], got ${p}`);
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  const below = sorted[lo] as number;
  if (lo === hi) return below;
  return below + (h - lo) * ((sorted[hi] as number) - below);
}

/** Several quantiles of an unsorted sample (sorted once). Fractions in [0, 1]. */
export function quantiles(values: ArrayLike<number>, ps: readonly number[]): number[] {
  const sorted = sortedCopy(values);
  return ps.map((p) => quantileSorted(sorted, p));
}
