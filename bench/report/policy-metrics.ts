/**
 * Summary figures of one policy run, as peer-routers.md §11 lists them: TTFT p50/p90/p99, ITL
 * p50/p99, E2E p99, output tokens/s, requests/s, engine-measured prefix hit rate (Σ cached /
 * Σ prompt tokens, vLLM's `prefix_cache_hits / queries`), per-pod spread of dispatched requests,
 * router decision time, errors; and the same per load stage.
 *
 * Warm-up stages are left out. Throughput is measured over the window from the first included
 * stage's start to the last included request's finish (so a backlog that drains late lowers it).
 * Percentiles: linear interpolation (stats/percentile.ts).
 */
import type { RequestRecord, RunResult } from '../des/run-result.ts';
import { engineHitRate } from '../stats/hit-rate.ts';
import { quantileSorted, sortedCopy } from '../stats/percentile.ts';
import { coefficientOfVariation, maxOverMin } from '../stats/spread.ts';
import type { FleetEvent, Stage } from '../workloads/types.ts';
import { coLocation, type CoLocation } from './co-location.ts';
import { hitTimeline, type HitTimeline } from './hit-timeline.ts';

export interface StageMetrics {
  readonly stage: number;
  readonly name: string;
  readonly rate: number | null;
  readonly requests: number;
  readonly errors: number;
  readonly ttftP50S: number;
  readonly ttftP90S: number;
  /** Output tokens emitted during the stage's window / its duration; NaN for instant stages. */
  readonly outputTokPerS: number;
  readonly hitRate: number;
}

export interface PolicyMetrics {
  readonly policy: string;
  readonly requests: number;
  readonly completed: number;
  readonly errors: number;
  readonly errorKinds: Readonly<Record<string, number>>;
  readonly ttftS: { readonly p50: number; readonly p90: number; readonly p99: number };
  readonly itlMs: { readonly p50: number; readonly p99: number };
  readonly e2eS: { readonly p50: number; readonly p99: number };
  readonly outputTokPerS: number;
  readonly requestsPerS: number;
  readonly hitRate: number;
  /** Coefficient of variation of requests dispatched per pod. */
  readonly podSpreadCv: number;
  readonly podMaxOverMin: number;
  readonly decisionUs: { readonly p50: number; readonly p99: number };
  readonly stages: readonly StageMetrics[];
  /** Sibling groups kept on one pod (workloads with request groups). */
  readonly coLocation?: CoLocation;
  /** Hit rate by arrival window around pod kills (workloads with fleet events). */
  readonly hitTimeline?: HitTimeline;
  readonly simEndS: number;
  readonly wallS: number;
}

function ttft(r: RequestRecord): number {
  return r.firstTokenS - r.arrivalS;
}

function sumWindow(perSecond: readonly number[], fromS: number, toS: number): number {
  let sum = 0;
  for (let s = Math.floor(fromS); s < Math.ceil(toS) && s < perSecond.length; s++) sum += perSecond[s] ?? 0;
  return sum;
}

export function computeMetrics(
  run: RunResult,
  stages: readonly Stage[],
  fleetEvents: readonly FleetEvent[] = [],
): PolicyMetrics {
  const included = run.records.filter((r) => !stages[r.stage]?.warmup);
  const ok = included.filter((r) => r.error === null);
  const ttfts = sortedCopy(ok.map(ttft));
  const e2es = sortedCopy(ok.map((r) => r.finishS - r.arrivalS));
  const itl = sortedCopy(run.itlGapsS);
  const decisions = sortedCopy(run.records.map((r) => r.decisionUs));
  const errorKinds: Record<string, number> = {};
  for (const r of included) if (r.error !== null) errorKinds[r.error] = (errorKinds[r.error] ?? 0) + 1;

  const firstStage = stages.find((s) => !s.warmup);
  const windowStart = firstStage?.startS ?? 0;
  const windowEnd = ok.reduce((t, r) => Math.max(t, r.finishS), windowStart);
  const window = windowEnd - windowStart;
  const outputTokens = ok.reduce((n, r) => n + r.completionTokens, 0);
  const perPod = Object.values(run.dispatchedPerPod);
  const siblings = coLocation(included);
  const timeline = hitTimeline(run.records, fleetEvents);

  return {
    policy: run.policy,
    requests: included.length,
    completed: ok.length,
    errors: included.length - ok.length,
    errorKinds,
    ttftS: {
      p50: quantileSorted(ttfts, 0.5),
      p90: quantileSorted(ttfts, 0.9),
      p99: quantileSorted(ttfts, 0.99),
    },
    itlMs: { p50: quantileSorted(itl, 0.5) * 1000, p99: quantileSorted(itl, 0.99) * 1000 },
    e2eS: { p50: quantileSorted(e2es, 0.5), p99: quantileSorted(e2es, 0.99) },
    outputTokPerS: window > 0 ? outputTokens / window : Number.NaN,
    requestsPerS: window > 0 ? ok.length / window : Number.NaN,
    hitRate: engineHitRate(included),
    podSpreadCv: coefficientOfVariation(perPod),
    podMaxOverMin: maxOverMin(perPod),
    decisionUs: { p50: quantileSorted(decisions, 0.5), p99: quantileSorted(decisions, 0.99) },
    stages: stages.map((stage) => stageMetrics(stage, run)),
    ...(siblings ? { coLocation: siblings } : {}),
    ...(timeline ? { hitTimeline: timeline } : {}),
    simEndS: run.simEndS,
    wallS: run.wallS,
  };
}

function stageMetrics(stage: Stage, run: RunResult): StageMetrics {
  const records = run.records.filter((r) => r.stage === stage.index);
  const ok = records.filter((r) => r.error === null);
  const ttfts = sortedCopy(ok.map(ttft));
  const end = stage.startS + stage.durationS;
  return {
    stage: stage.index,
    name: stage.name,
    rate: stage.rate,
    requests: records.length,
    errors: records.length - ok.length,
    ttftP50S: quantileSorted(ttfts, 0.5),
    ttftP90S: quantileSorted(ttfts, 0.9),
    outputTokPerS:
      stage.durationS > 0 ? sumWindow(run.tokensPerSecond, stage.startS, end) / stage.durationS : Number.NaN,
    hitRate: engineHitRate(records),
  };
}

/** Sorted TTFTs (s) of the included, successful requests: the CDF chart's data. */
export function ttftSample(run: RunResult, stages: readonly Stage[]): Float64Array {
  return sortedCopy(
    run.records.filter((r) => r.error === null && !stages[r.stage]?.warmup).map((r) => ttft(r)),
  );
}
