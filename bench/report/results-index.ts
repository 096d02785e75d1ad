/**
 * `bench/results/README.md`: one line per workload directory holding a results.json, with its
 * provenance and a headline (TTFT p90 and hit rate of round robin vs llm-d precise, and the policy
 * with the lowest TTFT p90).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { percent, seconds } from './format.ts';

interface StoredPolicy {
  readonly name: string;
  readonly metrics: { readonly ttftS: { readonly p90: number | null }; readonly hitRate: number | null };
}

interface StoredResults {
  readonly meta: {
    readonly mode: string;
    readonly date: string;
    readonly seed: number;
    readonly gitRevision: string;
  };
  readonly workload: { readonly name: string; readonly description: string; readonly requests: number };
  readonly policies: readonly StoredPolicy[];
}

function num(v: number | null | undefined): number {
  return typeof v === 'number' ? v : Number.NaN;
}

export function writeResultsIndex(outDir: string): void {
  const rows: string[] = [];
  const dirs = existsSync(outDir)
    ? readdirSync(outDir, { withFileTypes: true })
        .filter((d) => d.isDirectory() && existsSync(join(outDir, d.name, 'results.json')))
        .map((d) => d.name)
        .sort()
    : [];
  for (const dir of dirs) {
    let stored: StoredResults;
    try {
      stored = JSON.parse(readFileSync(join(outDir, dir, 'results.json'), 'utf8')) as StoredResults;
    } catch {
      continue;
    }
    const by = (name: string) => stored.policies.find((p) => p.name === name)?.metrics;
    const rr = by('round-robin');
    const precise = by('llm-d-precise');
    const best = [...stored.policies]
      .filter((p) => Number.isFinite(num(p.metrics.ttftS.p90)))
      .sort((a, b) => num(a.metrics.ttftS.p90) - num(b.metrics.ttftS.p90))[0];
    rows.push(
      `| [${dir}](${dir}/results.md) | ${stored.meta.mode} | ${stored.workload.requests} | ${stored.meta.seed} | ` +
        `${stored.meta.gitRevision.slice(0, 10)} | ${stored.meta.date.slice(0, 19)} | ` +
        `${seconds(num(rr?.ttftS.p90))} / ${seconds(num(precise?.ttftS.p90))} | ` +
        `${percent(num(rr?.hitRate))} / ${percent(num(precise?.hitRate))} | ` +
        `${best ? `${best.name} (${seconds(num(best.metrics.ttftS.p90))} s)` : '–'} |`,
    );
  }
  const text = [
    '# Benchmark results',
    '',
    'Written by `npm run bench` (see `npm run bench -- --help`); each directory holds results.md, results.json and SVG charts.',
    'Regenerate one with the command recorded at the top of its results.md.',
    '',
    '| workload | mode | requests | seed | git | date (UTC) | TTFT p90 RR / precise (s) | hit rate RR / precise | lowest TTFT p90 |',
    '|---|---|---:|---:|---|---|---:|---:|---|',
    ...rows,
    '',
  ].join('\n');
  writeFileSync(join(outDir, 'README.md'), text);
}
