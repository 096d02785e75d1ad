import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunResult } from '../../bench/des/run-result.ts';
import { summaryTable, type ReportedPolicy } from '../../bench/report/markdown.ts';
import { computeMetrics } from '../../bench/report/policy-metrics.ts';
import { writeWorkloadResults } from '../../bench/report/results-writer.ts';
import { commandLine } from '../../bench/report/run-meta.ts';
import { lineChart } from '../../bench/report/svg/line-chart.ts';
import type { Stage } from '../../bench/workloads/types.ts';
import { tinyWorkload } from './fixtures.ts';

const STAGES: Stage[] = [
  { index: 0, name: 'warm-up', rate: 1, startS: 0, durationS: 10, warmup: true },
  { index: 1, name: '2/s', rate: 2, startS: 10, durationS: 10, warmup: false },
];

function record(
  id: string,
  stage: number,
  arrivalS: number,
  ttft: number,
  e2e: number,
  cached: number,
  pod: string,
) {
  return {
    id,
    stage,
    pod,
    arrivalS,
    firstTokenS: arrivalS + ttft,
    finishS: arrivalS + e2e,
    promptTokens: 100,
    cachedTokens: cached,
    completionTokens: 10,
    decisionUs: 5,
    error: null,
  };
}

const RUN: RunResult = {
  policy: 'p',
  records: [
    record('w', 0, 1, 9, 9, 0, 'x'), // warm-up: excluded from the summary
    record('a', 1, 10, 1, 5, 50, 'x'),
    record('b', 1, 12, 2, 6, 0, 'y'),
    record('c', 1, 14, 3, 10, 100, 'y'),
    { ...record('d', 1, 15, 0, 0, 0, 'x'), firstTokenS: NaN, finishS: NaN, error: 'aborted' },
  ],
  itlGapsS: Float64Array.from([0.01, 0.02, 0.03]),
  tokensPerSecond: [...Array(10).fill(0), ...Array(10).fill(3)],
  dispatchedPerPod: { x: 3, y: 2 },
  simEndS: 24,
  wallS: 0.1,
  kvEventBatches: 0,
};

describe('policy metrics', () => {
  const m = computeMetrics(RUN, STAGES);

  it('leaves warm-up out and counts errors by kind', () => {
    expect(m.requests).toBe(4);
    expect(m.completed).toBe(3);
    expect(m.errorKinds).toEqual({ aborted: 1 });
  });

  it('computes TTFT percentiles, hit rate and throughput over the measured window', () => {
    expect(m.ttftS.p50).toBe(2);
    expect(m.ttftS.p90).toBeCloseTo(2.8, 12);
    expect(m.hitRate).toBeCloseTo(150 / 300, 12);
    // Window: first included stage start (10 s) to last finish (24 s); 30 output tokens.
    expect(m.outputTokPerS).toBeCloseTo(30 / 14, 12);
    expect(m.requestsPerS).toBeCloseTo(3 / 14, 12);
    expect(m.itlMs.p50).toBeCloseTo(20, 9);
    expect(m.podMaxOverMin).toBe(1.5);
    expect(m.stages[1]!.outputTokPerS).toBe(3);
  });
});

describe('report', () => {
  const m = computeMetrics(RUN, STAGES);
  const half = { ...m, ttftS: { ...m.ttftS, p90: m.ttftS.p90 / 2 }, outputTokPerS: m.outputTokPerS * 2 };
  const policies: ReportedPolicy[] = [
    { name: 'round-robin', summary: 'rr', reference: 'x', metrics: m },
    { name: 'llm-d-precise', summary: 'precise', reference: 'y', metrics: half },
    { name: 'kvedge', summary: 'slot', reference: 'z', aliasOf: 'llm-d-precise', metrics: half },
  ];

  it('shows ratios to round robin and to llm-d precise', () => {
    const lines = summaryTable(policies).split('\n');
    expect(lines[0]).toContain('p90 ÷ RR');
    expect(lines[2]!.endsWith('| 1.00× | 1.00× | 2.00× | 0.50× |')).toBe(true);
    expect(lines[3]!.endsWith('| 0.50× | 2.00× | 1.00× | 1.00× |')).toBe(true);
    expect(lines[4]).toContain('kvedge (= llm-d-precise)');
  });

  it('writes results.md, results.json, the CDF chart and the index', () => {
    const out = mkdtempSync(join(tmpdir(), 'bench-report-'));
    const dir = writeWorkloadResults(out, {
      workload: tinyWorkload([], { stages: STAGES }),
      meta: {
        mode: 'des',
        command: 'npm run bench',
        seed: 1,
        gitRevision: 'abc',
        date: '2026-01-01T00:00:00Z',
        node: 'v20',
        settings: {},
      },
      engineSummary: 'engine',
      policies: policies.map((p) => ({ ...p, configYaml: 'yaml' })),
      ttfts: new Map([['round-robin', Float64Array.from([1, 2, 3])]]),
    });
    const md = readFileSync(join(dir, 'results.md'), 'utf8');
    expect(md).toContain('Command: `npm run bench`');
    expect(md).toContain('placeholder slot');
    const json = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
    expect(json.meta.gitRevision).toBe('abc');
    expect(json.policies[0].metrics.ttftS.p50).toBe(2);
    expect(existsSync(join(dir, 'ttft-cdf.svg'))).toBe(true);
    // One ladder stage (warm-up excluded) is not a ladder: no ladder charts.
    expect(existsSync(join(dir, 'ladder-ttft-p90.svg'))).toBe(false);
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain('[tiny](tiny/results.md)');
  });
});

describe('SVG line chart', () => {
  it('draws one polyline and legend entry per series, escaping names', () => {
    const svg = lineChart({
      title: 'T <1>',
      x: { label: 'x', scale: 'log' },
      y: { label: 'y', scale: 'linear', min: 0 },
      series: [
        {
          name: 'a&b',
          color: '#000',
          points: [
            [0.1, 1],
            [1, 2],
            [10, 3],
          ],
        },
        {
          name: 'c',
          color: '#111',
          points: [
            [0, 1],
            [1, Number.NaN],
          ],
        },
      ],
    });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(1); // c has no drawable point on a log x axis
    expect(svg).toContain('a&#38;b');
    expect(svg).toContain('T &#60;1&#62;');
  });
});

describe('command line record', () => {
  it('quotes what a shell would need quoted', () => {
    expect(commandLine(['--workload', 'multi-turn', '--label', "it's"])).toBe(
      "npm run bench -- --workload multi-turn --label 'it'\\''s'",
    );
    expect(commandLine([])).toBe('npm run bench');
  });
});
