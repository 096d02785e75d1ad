/**
 * The report's charts: TTFT CDF per policy (log time axis: round robin's collapse spans three
 * decades), and, for workloads with a load ladder, TTFT p90 and output throughput per stage rate.
 */
import { quantileSorted } from '../stats/percentile.ts';
import type { Workload } from '../workloads/types.ts';
import type { PolicyMetrics } from './policy-metrics.ts';
import { lineChart, PALETTE, type Series } from './svg/line-chart.ts';

export interface ChartRun {
  readonly name: string;
  readonly metrics: PolicyMetrics;
  /** Sorted TTFTs in seconds. */
  readonly ttfts: Float64Array;
}

/** Points kept per CDF curve: quantiles at evenly spaced fractions. */
const CDF_POINTS = 300;

function color(i: number): string {
  return PALETTE[i % PALETTE.length] as string;
}

export function ttftCdfChart(workload: Workload, runs: readonly ChartRun[]): string {
  const series: Series[] = runs.map((run, i) => {
    const points: [number, number][] = [];
    if (run.ttfts.length > 0) {
      for (let k = 0; k < CDF_POINTS; k++) {
        const q = k / (CDF_POINTS - 1);
        points.push([quantileSorted(run.ttfts, q), q]);
      }
    }
    return { name: run.name, color: color(i), points };
  });
  return lineChart({
    title: `TTFT CDF — ${workload.name}`,
    subtitle: 'fraction of requests with TTFT ≤ x (warm-up excluded)',
    x: { label: 'TTFT (s, log scale)', scale: 'log' },
    y: { label: 'fraction of requests', scale: 'linear', min: 0, max: 1 },
    series,
    steps: true,
  });
}

/** Ladder stages worth plotting (not warm-up, with a rate); null unless there are at least two. */
function ladderStages(workload: Workload): number[] | null {
  const stages = workload.stages.filter((s) => !s.warmup && s.rate !== null).map((s) => s.index);
  return stages.length >= 2 ? stages : null;
}

function ladderChart(
  workload: Workload,
  runs: readonly ChartRun[],
  pick: (m: PolicyMetrics, stage: number) => number,
  title: string,
  subtitle: string,
  yLabel: string,
  yScale: 'linear' | 'log',
): string | null {
  const stages = ladderStages(workload);
  if (!stages) return null;
  const series: Series[] = runs.map((run, i) => ({
    name: run.name,
    color: color(i),
    points: stages.map((s) => [workload.stages[s]?.rate as number, pick(run.metrics, s)] as [number, number]),
  }));
  return lineChart({
    title: `${title} — ${workload.name}`,
    subtitle,
    x: { label: 'arrival rate (requests/s)', scale: 'linear' },
    y: { label: yLabel, scale: yScale, ...(yScale === 'linear' ? { min: 0 } : {}) },
    series,
    markers: true,
  });
}

export function ladderTtftChart(workload: Workload, runs: readonly ChartRun[]): string | null {
  return ladderChart(
    workload,
    runs,
    (m, s) => m.stages[s]?.ttftP90S ?? Number.NaN,
    'TTFT p90 across the load ladder',
    'p90 of the requests arriving in each stage',
    'TTFT p90 (s, log scale)',
    'log',
  );
}

export function ladderThroughputChart(workload: Workload, runs: readonly ChartRun[]): string | null {
  return ladderChart(
    workload,
    runs,
    (m, s) => m.stages[s]?.outputTokPerS ?? Number.NaN,
    'Output throughput across the load ladder',
    'output tokens emitted during each stage / its duration',
    'output tokens/s during the stage',
    'linear',
  );
}
