/** The per-workload `results.md`: provenance, the policy table with ratios, the ladder, charts. */
import type { Workload } from '../workloads/types.ts';
import { fixed, integer, percent, ratio, seconds } from './format.ts';
import type { PolicyMetrics } from './policy-metrics.ts';
import type { RunMeta } from './run-meta.ts';

export interface ReportedPolicy {
  readonly name: string;
  readonly summary: string;
  readonly reference: string;
  /** Set when the slot reused another policy's run. */
  readonly aliasOf?: string;
  readonly metrics: PolicyMetrics;
}

export interface ReportInput {
  readonly workload: Workload;
  readonly meta: RunMeta;
  readonly engineSummary: string;
  readonly policies: readonly ReportedPolicy[];
  /** Chart file names written next to results.md. */
  readonly charts: readonly string[];
  /** Extra Markdown sections, placed right after the results table (e.g. a replica comparison). */
  readonly sections?: readonly string[];
}

/** Baselines the ratio columns divide by. */
export const BASELINE = 'round-robin';
export const PRECISE = 'llm-d-precise';

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function divide(a: number, b: number | undefined): number {
  // Figures read back from results.json carry null for NaN; never turn them into 0×.
  return b === undefined || !(b > 0) || !Number.isFinite(a) ? Number.NaN : a / b;
}

export function summaryTable(policies: readonly ReportedPolicy[]): string {
  const rr = policies.find((p) => p.name === BASELINE)?.metrics;
  const precise = policies.find((p) => p.name === PRECISE)?.metrics;
  const header = [
    'policy',
    'TTFT p50 (s)',
    'TTFT p90 (s)',
    'TTFT p99 (s)',
    'ITL p50 (ms)',
    'ITL p99 (ms)',
    'E2E p99 (s)',
    'out tok/s',
    'req/s',
    'hit rate',
    'pod CV',
    'pod max/min',
    'decision p50 (µs)',
    'decision p99 (µs)',
    'errors',
    'p90 ÷ RR',
    'tok/s ÷ RR',
    'p90 ÷ precise',
    'tok/s ÷ precise',
  ];
  const lines = [row(header), row(header.map((_, i) => (i === 0 ? '---' : '---:')))];
  for (const p of policies) {
    const m = p.metrics;
    lines.push(
      row([
        p.aliasOf ? `${p.name} (= ${p.aliasOf})` : p.name,
        seconds(m.ttftS.p50),
        seconds(m.ttftS.p90),
        seconds(m.ttftS.p99),
        fixed(m.itlMs.p50, 1),
        fixed(m.itlMs.p99, 1),
        seconds(m.e2eS.p99),
        integer(m.outputTokPerS),
        fixed(m.requestsPerS, 2),
        percent(m.hitRate),
        fixed(m.podSpreadCv, 2),
        fixed(m.podMaxOverMin, 2),
        integer(m.decisionUs.p50),
        integer(m.decisionUs.p99),
        String(m.errors),
        ratio(divide(m.ttftS.p90, rr?.ttftS.p90)),
        ratio(divide(m.outputTokPerS, rr?.outputTokPerS)),
        ratio(divide(m.ttftS.p90, precise?.ttftS.p90)),
        ratio(divide(m.outputTokPerS, precise?.outputTokPerS)),
      ]),
    );
  }
  return lines.join('\n');
}

function ladderTables(workload: Workload, policies: readonly ReportedPolicy[]): string {
  const stages = workload.stages.filter((s) => s.rate !== null || workload.stages.length > 1);
  if (stages.length < 2) return '';
  const header = ['stage', 'rate (req/s)', 'requests', ...policies.map((p) => p.name)];
  const table = (title: string, cell: (m: PolicyMetrics, stage: number) => string): string => {
    const lines = [`**${title}**`, '', row(header), row(header.map((_, i) => (i === 0 ? '---' : '---:')))];
    for (const stage of stages) {
      const first = policies[0]?.metrics.stages[stage.index];
      lines.push(
        row([
          stage.name,
          stage.rate === null ? '–' : fixed(stage.rate, 1),
          String(first?.requests ?? '–'),
          ...policies.map((p) => cell(p.metrics, stage.index)),
        ]),
      );
    }
    return lines.join('\n');
  };
  return [
    '## Per stage',
    '',
    table('TTFT p90 (s) of requests arriving in the stage', (m, s) => seconds(m.stages[s]?.ttftP90S ?? NaN)),
    '',
    table('Output tokens/s emitted during the stage', (m, s) => integer(m.stages[s]?.outputTokPerS ?? NaN)),
    '',
    table("Engine prefix hit rate of the stage's requests", (m, s) => percent(m.stages[s]?.hitRate ?? NaN)),
    '',
  ].join('\n');
}

function coLocationSection(policies: readonly ReportedPolicy[]): string {
  const measured = policies.filter((p) => p.metrics.coLocation);
  if (measured.length === 0) return '';
  const header = [
    'policy',
    'groups',
    'requests on their group’s modal pod',
    'groups fully co-located',
    'worst group',
    'groups on the busiest pod per burst: mean / worst (even split)',
  ];
  const lines = [
    '## Sibling co-location',
    '',
    "Share of each sibling group's requests that ran on the group's most-used pod, and how the groups arriving together (one stage) were spread: the most groups whose modal pod was one pod.",
    '',
    row(header),
    row(header.map((_, i) => (i === 0 ? '---' : '---:'))),
  ];
  for (const p of measured) {
    const c = p.metrics.coLocation!;
    lines.push(
      row([
        p.name,
        String(c.groups),
        percent(c.onModalPod),
        percent(c.fullyCoLocated),
        percent(c.worstGroup),
        `${fixed(c.busiestPod.mean, 1)} / ${c.busiestPod.worst} (${c.busiestPod.even})`,
      ]),
    );
  }
  return `${lines.join('\n')}\n`;
}

function hitTimelineSection(workload: Workload, policies: readonly ReportedPolicy[]): string {
  const measured = policies.filter((p) => p.metrics.hitTimeline);
  const first = measured[0]?.metrics.hitTimeline;
  if (!first) return '';
  const events = workload.fleetEvents.map(
    (e) => `pod ${e.pod} ${e.action === 'kill' ? 'killed' : 'restored'} at ${fixed(e.atS, 0)} s`,
  );
  const windows = first.hitRates.map((_, i) => `${i * first.windowS}–${(i + 1) * first.windowS}`);
  const header = ['policy', 'before kill', 'back within 5% after restore (s)', ...windows];
  const lines = [
    '## Hit rate over time',
    '',
    `Engine prefix hit rate of the requests arriving in each ${first.windowS} s window (${events.join(', ')}).`,
    '',
    row(header),
    row(header.map((_, i) => (i === 0 ? '---' : '---:'))),
  ];
  for (const p of measured) {
    const t = p.metrics.hitTimeline!;
    lines.push(
      row([p.name, percent(t.beforeKill), fixed(t.recoveryS, 0), ...t.hitRates.map((r) => percent(r))]),
    );
  }
  return `${lines.join('\n')}\n`;
}

function errorSection(policies: readonly ReportedPolicy[]): string {
  const failing = policies.filter((p) => p.metrics.errors > 0);
  if (failing.length === 0) return '';
  const lines = ['## Errors', ''];
  for (const p of failing) {
    const kinds = Object.entries(p.metrics.errorKinds)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    lines.push(`- ${p.name}: ${p.metrics.errors} (${kinds})`);
  }
  return `${lines.join('\n')}\n`;
}

export function renderMarkdown(input: ReportInput): string {
  const { workload, meta } = input;
  const params = Object.entries(workload.parameters)
    .map(([k, v]) => `\`${k}\`=${String(v)}`)
    .join(', ');
  const aliasNotes = input.policies
    .filter((p) => p.aliasOf)
    .map(
      (p) =>
        `- \`${p.name}\` is a placeholder slot: it currently runs \`${p.aliasOf}\`'s config, and its row repeats that run (identical by determinism).`,
    );
  return [
    `# ${workload.name} (${meta.mode})`,
    '',
    `${workload.description}. Source: ${workload.reference}.`,
    '',
    `- Command: \`${meta.command}\``,
    `- Seed ${meta.seed}; git ${meta.gitRevision}; ${meta.date}; Node ${meta.node}`,
    `- Engine: ${input.engineSummary}`,
    ...Object.entries(meta.settings).map(([k, v]) => `- ${k}: ${String(v)}`),
    `- Workload parameters: ${params}`,
    `- Requests: ${workload.requests.length}${workload.stages.some((s) => s.warmup) ? ' (warm-up stage excluded from every figure below)' : ''}`,
    ...workload.notes.map((n) => `- ${n}`),
    '',
    '## Results',
    '',
    summaryTable(input.policies),
    '',
    "TTFT, ITL and E2E percentiles use linear interpolation between closest ranks (numpy's default). " +
      'Throughput = output tokens (req/s = completed requests) of the included requests over the window from the first included stage to the last finish. ' +
      'Hit rate = Σ cached prompt tokens / Σ prompt tokens as the engines report them. ' +
      'Pod CV / max/min: spread of requests dispatched per pod. Decision time: wall-clock µs of the scheduler call (the only non-deterministic figure). ' +
      "Ratios divide by round-robin's and llm-d-precise's figures (TTFT: lower is better; tok/s: higher is better).",
    ...(aliasNotes.length > 0 ? ['', ...aliasNotes] : []),
    '',
    ...(input.sections ?? []).flatMap((section) => [section, '']),
    ladderTables(workload, input.policies),
    coLocationSection(input.policies),
    hitTimelineSection(workload, input.policies),
    errorSection(input.policies),
    '## Charts',
    '',
    ...input.charts.map((c) => `![${c}](${c})`),
    '',
    '## Policies',
    '',
    ...input.policies.map((p) => `- \`${p.name}\`: ${p.summary} (${p.reference})`),
    '',
  ].join('\n');
}
