/**
 * Report pieces for router replicas sharing state through Redis (issue 5): the per-replica view of
 * one live run (requests each replica took, its decisions, its cluster-state counters), and the
 * comparison of 1, 2, 4... replicas on the same workload, with the goal that replicas cost less
 * than 2% of the single router's engine hit rate.
 */
import type { RouterStats } from '../live/router-launcher.ts';
import { fixed, integer, percent, ratio, seconds } from './format.ts';
import type { PolicyMetrics } from './policy-metrics.ts';
import { lineChart, PALETTE } from './svg/line-chart.ts';

/** Issue 5: replicas may cost at most this fraction of the single router's hit rate. */
export const REPLICA_HIT_RATE_GOAL = 0.02;

/** One measured replica count. */
export interface ReplicaPoint {
  readonly replicas: number;
  /** Row name, e.g. "2 replicas". */
  readonly name: string;
  readonly metrics: PolicyMetrics;
}

export interface ReplicaComparisonRow {
  readonly replicas: number;
  readonly name: string;
  readonly requests: number;
  readonly errors: number;
  readonly hitRate: number;
  /** Hit rate minus the baseline's, in percentage points (negative = lost). */
  readonly hitRateDeltaPoints: number;
  /** Share of the baseline's hit rate lost: 1 − hit / baseline hit (negative = gained). */
  readonly hitRateLoss: number;
  /** Loss below the goal; null for the baseline row itself. */
  readonly withinGoal: boolean | null;
  readonly ttftP50S: number;
  readonly ttftP90S: number;
  readonly ttftP99S: number;
  /** TTFT p90 ÷ the baseline's. */
  readonly ttftP90Ratio: number;
  readonly decisionP50Us: number;
  readonly decisionP99Us: number;
}

/**
 * Rows in the given order, each against the baseline: the first point with one replica (the
 * first point when none has one).
 */
export function compareReplicas(
  points: readonly ReplicaPoint[],
  goal = REPLICA_HIT_RATE_GOAL,
): ReplicaComparisonRow[] {
  const baseline = points.find((p) => p.replicas === 1) ?? points[0];
  if (!baseline) return [];
  const base = baseline.metrics;
  return points.map((p) => {
    const m = p.metrics;
    const loss = base.hitRate > 0 ? 1 - m.hitRate / base.hitRate : Number.NaN;
    return {
      replicas: p.replicas,
      name: p.name,
      requests: m.requests,
      errors: m.errors,
      hitRate: m.hitRate,
      hitRateDeltaPoints: (m.hitRate - base.hitRate) * 100,
      hitRateLoss: loss,
      withinGoal: p === baseline ? null : Number.isFinite(loss) ? loss < goal : false,
      ttftP50S: m.ttftS.p50,
      ttftP90S: m.ttftS.p90,
      ttftP99S: m.ttftS.p99,
      ttftP90Ratio: base.ttftS.p90 > 0 ? m.ttftS.p90 / base.ttftS.p90 : Number.NaN,
      decisionP50Us: m.decisionUs.p50,
      decisionP99Us: m.decisionUs.p99,
    };
  });
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function signed(v: number, digits: number): string {
  return Number.isFinite(v) ? `${v > 0 ? '+' : ''}${v.toFixed(digits)}` : '–';
}

/** The comparison as a Markdown table (goal column: "yes" when the loss is under the goal). */
export function replicaComparisonTable(
  rows: readonly ReplicaComparisonRow[],
  goal = REPLICA_HIT_RATE_GOAL,
): string {
  const header = [
    'replicas',
    'requests',
    'errors',
    'hit rate',
    'Δ hit rate (points)',
    'hit rate lost',
    `lost < ${(goal * 100).toFixed(0)}%`,
    'TTFT p50 (s)',
    'TTFT p90 (s)',
    'TTFT p99 (s)',
    'p90 ÷ 1 replica',
    'decision p50 (µs)',
    'decision p99 (µs)',
  ];
  const lines = [row(header), row(header.map((_, i) => (i === 0 ? '---' : '---:')))];
  for (const r of rows) {
    lines.push(
      row([
        r.name,
        String(r.requests),
        String(r.errors),
        percent(r.hitRate),
        signed(r.hitRateDeltaPoints, 2),
        Number.isFinite(r.hitRateLoss) ? `${signed(r.hitRateLoss * 100, 2)}%` : '–',
        r.withinGoal === null ? 'baseline' : r.withinGoal ? 'yes' : '**no**',
        seconds(r.ttftP50S),
        seconds(r.ttftP90S),
        seconds(r.ttftP99S),
        ratio(r.ttftP90Ratio),
        integer(r.decisionP50Us),
        integer(r.decisionP99Us),
      ]),
    );
  }
  return lines.join('\n');
}

/** Rows by replica count (stable: a repeated count keeps its run order), so lines run left to right. */
function byCount(rows: readonly ReplicaComparisonRow[]): ReplicaComparisonRow[] {
  return [...rows].sort((a, b) => a.replicas - b.replicas);
}

/** X axis from 0 to the largest count: whole-number ticks for the usual 1, 2, 4 (8). */
function replicaAxis(rows: readonly ReplicaComparisonRow[]) {
  return {
    label: 'router replicas',
    scale: 'linear' as const,
    min: 0,
    max: Math.max(1, ...rows.map((r) => r.replicas)),
  };
}

/** Hit rate per replica count, with the goal (baseline × (1 − goal)) as a dashed line. */
export function replicaHitRateChart(
  title: string,
  rows: readonly ReplicaComparisonRow[],
  goal = REPLICA_HIT_RATE_GOAL,
): string {
  const base = rows.find((r) => r.withinGoal === null);
  const sorted = byCount(rows);
  const xs = sorted.map((r) => r.replicas);
  const floor = base ? base.hitRate * (1 - goal) * 100 : Number.NaN;
  return lineChart({
    title: `Engine hit rate by replica count — ${title}`,
    subtitle: 'Σ cached / Σ prompt tokens as the engines report them; dashed: the goal floor',
    x: replicaAxis(rows),
    y: { label: 'hit rate (%)', scale: 'linear' },
    series: [
      {
        name: 'hit rate',
        color: PALETTE[0] as string,
        points: sorted.map((r) => [r.replicas, r.hitRate * 100] as [number, number]),
      },
      {
        name: `1 replica − ${(goal * 100).toFixed(0)}%`,
        color: PALETTE[1] as string,
        dashed: true,
        points: [
          [Math.min(...xs), floor],
          [Math.max(...xs), floor],
        ],
      },
    ],
    markers: true,
  });
}

/** TTFT p50 and p90 per replica count. */
export function replicaTtftChart(title: string, rows: readonly ReplicaComparisonRow[]): string {
  const sorted = byCount(rows);
  return lineChart({
    title: `TTFT by replica count — ${title}`,
    subtitle: 'client-side time to first token, warm-up excluded',
    x: replicaAxis(rows),
    y: { label: 'TTFT (s)', scale: 'linear', min: 0 },
    series: [
      {
        name: 'TTFT p50',
        color: PALETTE[0] as string,
        points: sorted.map((r) => [r.replicas, r.ttftP50S] as [number, number]),
      },
      {
        name: 'TTFT p90',
        color: PALETTE[1] as string,
        points: sorted.map((r) => [r.replicas, r.ttftP90S] as [number, number]),
      },
    ],
    markers: true,
  });
}

/** Cluster counters shown per replica, in this order (names as in `kvedge_cluster_<name>_total`). */
const SHOWN_COUNTERS = [
  'owned_pods',
  'degraded_transitions',
  'redis_errors',
  'batches_owned',
  'batches_followed',
  'changes_applied',
  'pod_resyncs',
  'history_writes',
  'history_received',
  'picker_state_received',
  'placement_claims_won',
  'placement_claims_taken',
  'placement_claims_unavailable',
  'placement_claims_agreed',
  'placement_claims_overridden',
  'turn_waits_served',
  'turn_waits_timed_out',
] as const;

/**
 * One live run's replicas: requests the load generator sent to each, the decisions each made, and
 * (Redis runs) what each did with the shared state.
 */
export function replicaRunSection(
  stats: RouterStats,
  requestsPerTarget: Readonly<Record<string, number>>,
  title = 'Router replicas',
): string {
  const clustered = stats.replicas.some((r) => Object.keys(r.cluster).length > 0);
  const header = ['replica', 'requests sent', 'decisions', ...(clustered ? SHOWN_COUNTERS : [])];
  const lines = [
    `## ${title}`,
    '',
    `Requests the load generator sent to each replica, the scheduling decisions each made (retries and decisions taken again after finding a placement claim included)${clustered ? ', and its cluster-state counters at the end of the run (`kvedge_cluster_*`; pods = pods whose KV events it applied for the cluster)' : ''}. ` +
      `Decision time over all replicas, from the routers' \`kvedge_scheduler_decision_seconds\` buckets: p50 ${fixed(stats.decisionUs.p50, 0)} µs, p99 ${fixed(stats.decisionUs.p99, 0)} µs.` +
      (stats.turnWaits
        ? ` ${stats.turnWaits.count} decisions waited for a turn behind placement claims in flight (\`kvedge_placement_turn_wait_seconds\`): p50 ${fixed(stats.turnWaits.p50Ms, 2)} ms, p99 ${fixed(stats.turnWaits.p99Ms, 2)} ms.`
        : ''),
    '',
    row(header),
    row(header.map((_, i) => (i === 0 ? '---' : '---:'))),
  ];
  stats.replicas.forEach((r, i) => {
    lines.push(
      row([
        `${i} (${r.baseUrl})`,
        integer(requestsPerTarget[r.baseUrl] ?? 0),
        integer(r.decisions),
        ...(clustered ? SHOWN_COUNTERS.map((c) => integer(r.cluster[c] ?? Number.NaN)) : []),
      ]),
    );
  });
  return lines.join('\n');
}
