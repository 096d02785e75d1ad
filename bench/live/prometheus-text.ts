/**
 * Just enough of the Prometheus text format to read a router's admin `/metrics` after a live run:
 * totals of counters and gauges, and histogram buckets with `histogram_quantile`'s interpolation.
 * The client cannot time the router's scheduling decisions; the router's own histogram can.
 */

/** Cumulative count per bucket upper bound (`le`), ascending; the last bound is Infinity. */
export type Buckets = ReadonlyMap<number, number>;

const SAMPLE = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/;

interface Sample {
  readonly name: string;
  readonly labels: string;
  readonly value: number;
}

function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const value = Number(match[3]);
    if (!Number.isNaN(value)) out.push({ name: match[1]!, labels: match[2] ?? '', value });
  }
  return out;
}

/** Sum of every series of `name` (all label sets); 0 when absent. */
export function metricTotal(text: string, name: string): number {
  return samples(text)
    .filter((s) => s.name === name)
    .reduce((sum, s) => sum + s.value, 0);
}

/** Sum of the series of `name` carrying the label `label="value"`; 0 when absent. */
export function metricWithLabel(text: string, name: string, label: string, value: string): number {
  const wanted = `${label}="${value}"`;
  return samples(text)
    .filter((s) => s.name === name && s.labels.split(',').includes(wanted))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Number of series of `name` whose value is non-zero (e.g. pods a replica owns). */
export function nonZeroSeries(text: string, name: string): number {
  return samples(text).filter((s) => s.name === name && s.value !== 0).length;
}

/** The buckets of histogram `name`, summed over its label sets. */
export function parseHistogram(text: string, name: string): Buckets {
  const buckets = new Map<number, number>();
  for (const s of samples(text)) {
    if (s.name !== `${name}_bucket`) continue;
    const le = /(?:^|,)le="([^"]+)"/.exec(s.labels)?.[1];
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + s.value);
  }
  return new Map([...buckets].sort((a, b) => a[0] - b[0]));
}

/** Bucket-wise sum (several replicas' histograms of the same metric). */
export function mergeHistograms(list: readonly Buckets[]): Buckets {
  const merged = new Map<number, number>();
  for (const buckets of list) for (const [le, n] of buckets) merged.set(le, (merged.get(le) ?? 0) + n);
  return new Map([...merged].sort((a, b) => a[0] - b[0]));
}

/**
 * Prometheus' `histogram_quantile`: linear interpolation inside the bucket holding the rank (from
 * 0 for the first bucket); a rank in the +Inf bucket answers the largest finite bound. NaN when
 * empty.
 */
export function histogramQuantile(buckets: Buckets, q: number): number {
  const entries = [...buckets];
  const total = entries.at(-1)?.[1] ?? 0;
  if (total <= 0) return Number.NaN;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [le, count] of entries) {
    if (count >= rank) {
      if (le === Number.POSITIVE_INFINITY) return lowerBound;
      if (count === lowerCount) return le;
      return lowerBound + ((le - lowerBound) * (rank - lowerCount)) / (count - lowerCount);
    }
    lowerBound = le;
    lowerCount = count;
  }
  return lowerBound;
}
