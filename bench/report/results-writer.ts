/**
 * Writes one workload's results under `<out>/<workload>/`: results.md, results.json and the SVG
 * charts; then refreshes the `<out>/README.md` index.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Workload } from '../workloads/types.ts';
import { type ChartRun, ladderThroughputChart, ladderTtftChart, ttftCdfChart } from './charts.ts';
import { renderMarkdown, type ReportedPolicy } from './markdown.ts';
import { writeResultsIndex } from './results-index.ts';
import type { RunMeta } from './run-meta.ts';

export interface WorkloadResults {
  readonly workload: Workload;
  /** Directory name under the output directory; default the workload's name. */
  readonly dirName?: string;
  readonly meta: RunMeta;
  readonly engineSummary: string;
  readonly policies: readonly (ReportedPolicy & { readonly configYaml: string })[];
  /** Sorted TTFTs per policy, for the CDF chart. */
  readonly ttfts: ReadonlyMap<string, Float64Array>;
  /** Extra Markdown sections after the results table. */
  readonly sections?: readonly string[];
  /** Extra charts (file name, SVG text), written and linked after the standard ones. */
  readonly extraCharts?: readonly (readonly [string, string])[];
  /** Extra top-level fields of results.json. */
  readonly extraJson?: Readonly<Record<string, unknown>>;
}

/** Returns the directory written. */
export function writeWorkloadResults(outDir: string, results: WorkloadResults): string {
  const dir = join(outDir, results.dirName ?? results.workload.name);
  mkdirSync(dir, { recursive: true });
  const runs: ChartRun[] = results.policies.map((p) => ({
    name: p.name,
    metrics: p.metrics,
    ttfts: results.ttfts.get(p.name) ?? new Float64Array(),
  }));
  const charts: (readonly [string, string | null])[] = [
    ['ttft-cdf.svg', ttftCdfChart(results.workload, runs)],
    ['ladder-ttft-p90.svg', ladderTtftChart(results.workload, runs)],
    ['ladder-throughput.svg', ladderThroughputChart(results.workload, runs)],
    ...(results.extraCharts ?? []),
  ];
  const written: string[] = [];
  for (const [name, svg] of charts) {
    if (svg === null) continue;
    writeFileSync(join(dir, name), svg);
    written.push(name);
  }
  writeFileSync(
    join(dir, 'results.md'),
    renderMarkdown({
      workload: results.workload,
      meta: results.meta,
      engineSummary: results.engineSummary,
      policies: results.policies,
      charts: written,
      ...(results.sections ? { sections: results.sections } : {}),
    }),
  );
  const { workload } = results;
  const json = {
    meta: results.meta,
    workload: {
      name: workload.name,
      description: workload.description,
      reference: workload.reference,
      parameters: workload.parameters,
      fleet: workload.fleet,
      stages: workload.stages,
      fleetEvents: workload.fleetEvents,
      requests: workload.requests.length,
      notes: workload.notes,
    },
    engine: results.engineSummary,
    policies: results.policies.map((p) => ({
      name: p.name,
      summary: p.summary,
      reference: p.reference,
      ...(p.aliasOf ? { aliasOf: p.aliasOf } : {}),
      config: p.configYaml,
      metrics: p.metrics,
    })),
    ...results.extraJson,
  };
  writeFileSync(join(dir, 'results.json'), `${JSON.stringify(json, jsonNumbers, 2)}\n`);
  writeResultsIndex(outDir);
  return dir;
}

/** JSON has no NaN/Infinity: write them as null / strings. */
function jsonNumbers(_key: string, value: unknown): unknown {
  if (typeof value !== 'number' || Number.isFinite(value)) return value;
  return Number.isNaN(value) ? null : value > 0 ? 'Infinity' : '-Infinity';
}
