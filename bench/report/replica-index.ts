/**
 * `<out>/replicas/README.md`: every replica comparison written so far (one directory per workload
 * and policy), one line per replica count, so approximate and precise runs read side by side.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { percent, seconds } from './format.ts';
import { REPLICA_HIT_RATE_GOAL } from './replica-report.ts';

interface StoredRow {
  readonly replicas: number;
  readonly name: string;
  readonly requests: number;
  readonly errors: number;
  readonly hitRate: number | null;
  readonly hitRateLoss: number | null;
  readonly withinGoal: boolean | null;
  readonly ttftP50S: number | null;
  readonly ttftP90S: number | null;
}

interface StoredComparison {
  readonly meta: { readonly date: string; readonly seed: number; readonly command: string };
  readonly workload: { readonly name: string };
  readonly replicaComparison?: { readonly policy: string; readonly rows: readonly StoredRow[] };
}

const num = (v: number | null | undefined): number => (typeof v === 'number' ? v : Number.NaN);

/** Rewrites the index from the comparison directories under `dir`. */
export function writeReplicaIndex(dir: string): void {
  const lines: string[] = [];
  const commands: string[] = [];
  const subdirs = existsSync(dir)
    ? readdirSync(dir, { withFileTypes: true })
        .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'results.json')))
        .map((d) => d.name)
        .sort()
    : [];
  for (const sub of subdirs) {
    let stored: StoredComparison;
    try {
      stored = JSON.parse(readFileSync(join(dir, sub, 'results.json'), 'utf8')) as StoredComparison;
    } catch {
      continue;
    }
    const comparison = stored.replicaComparison;
    if (!comparison) continue;
    commands.push(
      `- [${sub}](${sub}/results.md): \`${stored.meta.command}\` (${stored.meta.date.slice(0, 19)})`,
    );
    for (const r of comparison.rows) {
      const loss = num(r.hitRateLoss);
      lines.push(
        `| [${sub}](${sub}/results.md) | ${stored.workload.name} | ${comparison.policy} | ${r.name} | ${r.requests} | ${r.errors} | ` +
          `${percent(num(r.hitRate))} | ${r.withinGoal === null ? 'baseline' : `${Number.isFinite(loss) ? (loss * 100).toFixed(2) : '–'}%${r.withinGoal ? '' : ' (over goal)'}`} | ` +
          `${seconds(num(r.ttftP50S))} | ${seconds(num(r.ttftP90S))} |`,
      );
    }
  }
  const text = [
    '# Router replicas sharing state through Redis',
    '',
    'Written by `npm run bench -- --mode live --start-sim --router <policy> --replica-sweep 1,2,4 ...`: the same ' +
      'workload and seed through 1, 2, 4... kvedge router replicas (requests spread over them per request, ' +
      `like an L4 balancer). Goal (issue 5): replicas lose less than ${(REPLICA_HIT_RATE_GOAL * 100).toFixed(0)}% of the single router's hit rate.`,
    '',
    '| comparison | workload | policy | replicas | requests | errors | hit rate | hit rate lost | TTFT p50 (s) | TTFT p90 (s) |',
    '|---|---|---|---|---:|---:|---:|---:|---:|---:|',
    ...lines,
    '',
    ...commands,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'README.md'), text);
}
