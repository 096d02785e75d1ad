import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  histogramQuantile,
  mergeHistograms,
  metricTotal,
  nonZeroSeries,
  parseHistogram,
} from '../../bench/live/prometheus-text.ts';
import type { PolicyMetrics } from '../../bench/report/policy-metrics.ts';
import { writeReplicaIndex } from '../../bench/report/replica-index.ts';
import {
  compareReplicas,
  replicaComparisonTable,
  replicaHitRateChart,
  replicaRunSection,
  replicaTtftChart,
  type ReplicaPoint,
} from '../../bench/report/replica-report.ts';

function metrics(hitRate: number, p90: number, errors = 0): PolicyMetrics {
  return {
    policy: 'p',
    requests: 100,
    completed: 100 - errors,
    errors,
    errorKinds: {},
    ttftS: { p50: p90 / 2, p90, p99: p90 * 2 },
    itlMs: { p50: 5, p99: 9 },
    e2eS: { p50: 1, p99: 2 },
    outputTokPerS: 100,
    requestsPerS: 1,
    hitRate,
    podSpreadCv: 0,
    podMaxOverMin: 1,
    decisionUs: { p50: 40, p99: 400 },
    stages: [],
    simEndS: 10,
    wallS: 10,
  };
}

const POINTS: ReplicaPoint[] = [
  { replicas: 1, name: '1 replica', metrics: metrics(0.5, 0.1) },
  { replicas: 2, name: '2 replicas', metrics: metrics(0.495, 0.12) }, // 1% of the hit rate lost
  { replicas: 4, name: '4 replicas', metrics: metrics(0.485, 0.2, 3) }, // 3% lost
];

describe('replica comparison', () => {
  it('measures each count against the single replica and judges the 2% goal on the relative loss', () => {
    const rows = compareReplicas(POINTS);
    expect(rows.map((r) => r.withinGoal)).toEqual([null, true, false]);
    expect(rows[1]!.hitRateLoss).toBeCloseTo(0.01, 10);
    expect(rows[1]!.hitRateDeltaPoints).toBeCloseTo(-0.5, 10);
    expect(rows[2]!.hitRateLoss).toBeCloseTo(0.03, 10);
    expect(rows[2]!.ttftP90Ratio).toBeCloseTo(2, 10);
    expect(rows[2]!.errors).toBe(3);
    // A gain is never a failure.
    const gained = compareReplicas([POINTS[0]!, { ...POINTS[1]!, metrics: metrics(0.6, 0.1) }]);
    expect(gained[1]!.withinGoal).toBe(true);
    expect(gained[1]!.hitRateLoss).toBeLessThan(0);
  });

  it('uses the one-replica run as baseline wherever it sits, and a repeated count as a row of its own', () => {
    const rows = compareReplicas([POINTS[1]!, POINTS[0]!, { ...POINTS[0]!, name: '1 replica (run 2)' }]);
    expect(rows.map((r) => r.withinGoal)).toEqual([true, null, true]);
    expect(rows[2]!.hitRateLoss).toBe(0);
    expect(compareReplicas([])).toEqual([]);
  });

  it('renders the table with the goal verdicts, and charts with the goal floor', () => {
    const rows = compareReplicas(POINTS);
    const table = replicaComparisonTable(rows);
    const lines = table.split('\n');
    expect(lines).toHaveLength(2 + 3);
    expect(lines[0]).toContain('lost < 2%');
    expect(lines[2]).toContain('baseline');
    expect(lines[3]).toContain('| yes |');
    expect(lines[3]).toContain('-0.50');
    expect(lines[3]).toContain('+1.00%');
    expect(lines[4]).toContain('**no**');
    expect(lines[4]).toContain('48.5%');
    const hit = replicaHitRateChart('w, p', rows);
    expect(hit).toMatch(/^<svg/);
    expect(hit).toContain('stroke-dasharray'); // the goal floor
    expect(hit).toContain('1 replica − 2%');
    expect(replicaTtftChart('w, p', rows)).toContain('TTFT p90');
  });

  it('shows each replica with its requests, decisions and cluster counters', () => {
    const section = replicaRunSection(
      {
        decisionUs: { p50: 42, p99: 900 },
        replicas: [
          { baseUrl: 'http://r0', decisions: 11, cluster: { owned_pods: 2, history_writes: 7 } },
          { baseUrl: 'http://r1', decisions: 9, cluster: { owned_pods: 1, history_writes: 5 } },
        ],
      },
      { 'http://r0': 11, 'http://r1': 9 },
    );
    expect(section).toContain('p50 42 µs, p99 900 µs');
    expect(section).toContain('| 0 (http://r0) | 11 | 11 | 2 |');
    expect(section).toContain('| 1 (http://r1) | 9 | 9 | 1 |');
    const single = replicaRunSection(
      { decisionUs: { p50: 1, p99: 2 }, replicas: [{ baseUrl: 'http://r0', decisions: 3, cluster: {} }] },
      { 'http://r0': 3 },
    );
    expect(single).not.toContain('owned_pods');
  });

  it('indexes every comparison directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvedge-replicas-'));
    const rows = compareReplicas(POINTS);
    for (const policy of ['llm-d-well-lit', 'llm-d-precise']) {
      mkdirSync(join(dir, `w-${policy}`));
      writeFileSync(
        join(dir, `w-${policy}`, 'results.json'),
        JSON.stringify({
          meta: { date: '2026-01-01T00:00:00Z', seed: 1, command: `npm run bench -- --router ${policy}` },
          workload: { name: 'w' },
          replicaComparison: { policy, rows },
        }),
      );
    }
    mkdirSync(join(dir, 'not-a-comparison'));
    writeFileSync(join(dir, 'not-a-comparison', 'results.json'), '{"meta":{},"workload":{}}');
    writeReplicaIndex(dir);
    const text = readFileSync(join(dir, 'README.md'), 'utf8');
    const tableRows = text.split('\n').filter((l) => l.startsWith('| [w-'));
    expect(tableRows).toHaveLength(6);
    expect(tableRows.filter((l) => l.includes('(over goal)'))).toHaveLength(2);
    expect(text).toContain('`npm run bench -- --router llm-d-precise`');
  });
});

const METRICS_TEXT = `# HELP kvedge_scheduler_decision_seconds Time the scheduler took.
# TYPE kvedge_scheduler_decision_seconds histogram
kvedge_scheduler_decision_seconds_bucket{le="0.00001"} 0
kvedge_scheduler_decision_seconds_bucket{le="0.00005"} 50
kvedge_scheduler_decision_seconds_bucket{le="0.0001"} 90
kvedge_scheduler_decision_seconds_bucket{le="+Inf"} 100
kvedge_scheduler_decision_seconds_sum 0.01
kvedge_scheduler_decision_seconds_count 100
kvedge_cluster_owned_pods{endpoint="a"} 1
kvedge_cluster_owned_pods{endpoint="b"} 0
kvedge_cluster_owned_pods{endpoint="c"} 1
kvedge_cluster_history_writes_total 12
`;

describe('Prometheus text', () => {
  it('reads histogram buckets and interpolates quantiles as histogram_quantile does', () => {
    const buckets = parseHistogram(METRICS_TEXT, 'kvedge_scheduler_decision_seconds');
    expect([...buckets.keys()]).toEqual([0.00001, 0.00005, 0.0001, Number.POSITIVE_INFINITY]);
    // Rank 50 of 100 is the top of the (10 µs, 50 µs] bucket.
    expect(histogramQuantile(buckets, 0.5)).toBeCloseTo(0.00005, 12);
    // Rank 70: 20 of the 40 in (50 µs, 100 µs] → 75 µs.
    expect(histogramQuantile(buckets, 0.7)).toBeCloseTo(0.000075, 12);
    // Rank 99 falls in +Inf: the largest finite bound.
    expect(histogramQuantile(buckets, 0.99)).toBeCloseTo(0.0001, 12);
    expect(histogramQuantile(new Map(), 0.5)).toBeNaN();
  });

  it('merges replicas bucket by bucket and sums counters', () => {
    const one = parseHistogram(METRICS_TEXT, 'kvedge_scheduler_decision_seconds');
    const merged = mergeHistograms([one, one]);
    expect(merged.get(Number.POSITIVE_INFINITY)).toBe(200);
    expect(histogramQuantile(merged, 0.7)).toBeCloseTo(histogramQuantile(one, 0.7), 12);
    expect(metricTotal(METRICS_TEXT, 'kvedge_scheduler_decision_seconds_count')).toBe(100);
    expect(metricTotal(METRICS_TEXT, 'kvedge_cluster_history_writes_total')).toBe(12);
    expect(metricTotal(METRICS_TEXT, 'absent_total')).toBe(0);
    expect(nonZeroSeries(METRICS_TEXT, 'kvedge_cluster_owned_pods')).toBe(2);
  });
});
