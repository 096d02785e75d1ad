/**
 * One workload in DES mode: builds the workload and fleet once, runs every policy on it with the
 * same seed, computes the figures and writes the results. A slot that aliases another policy
 * (`kvedge` today) reuses that policy's run.
 */
import { getEngineProfile } from '../../src/sim/engine/timing-profiles.ts';
import type { EngineConfig } from '../../src/sim/engine/types.ts';
import type { ProgressDisplay } from '../cli/progress.ts';
import type { Policy } from '../policies/policy.ts';
import type { ReportedPolicy } from '../report/markdown.ts';
import { computeMetrics, ttftSample } from '../report/policy-metrics.ts';
import { writeWorkloadResults } from '../report/results-writer.ts';
import type { RunMeta } from '../report/run-meta.ts';
import { engineConfigForFleet } from '../workloads/fleet-shape.ts';
import type { Workload } from '../workloads/types.ts';
import { runDes } from './driver.ts';
import type { RunResult } from './run-result.ts';

export interface DesBenchmarkOptions {
  readonly workload: Workload;
  readonly policies: readonly Policy[];
  readonly seed: number;
  readonly scrapeIntervalMs: number;
  readonly kvEventDelayMs: number;
  /** Routing threads (default 1). */
  readonly routerThreads?: number;
  readonly outDir: string;
  readonly meta: Omit<RunMeta, 'settings'>;
  readonly progress: ProgressDisplay;
}

export interface DesBenchmarkResult {
  readonly dir: string;
  readonly policies: readonly ReportedPolicy[];
}

/** One line describing the simulated pods. */
export function engineSummary(workload: Workload, engine: EngineConfig): string {
  return (
    `${workload.fleet.pods} pods × ${getEngineProfile(workload.fleet.profile).timing.description}; ` +
    `block ${engine.blockSize}, ${engine.numGpuBlocks} KV blocks/pod (${(engine.blockSize * engine.numGpuBlocks).toLocaleString('en-US')} tokens), ` +
    `max_num_seqs ${engine.maxNumSeqs}, max_num_batched_tokens ${engine.maxNumBatchedTokens}, waiting queue unbounded (as vLLM)`
  );
}

export function runDesBenchmark(options: DesBenchmarkOptions): DesBenchmarkResult {
  const { workload, policies, progress } = options;
  const engine = engineConfigForFleet(workload.fleet);
  const runs = new Map<string, RunResult>();
  const stageCount = workload.stages.length;
  policies.forEach((policy, i) => {
    const tag = `[${workload.name} ${i + 1}/${policies.length} ${policy.name}]`;
    const reused = policy.aliasOf ? runs.get(policy.aliasOf) : undefined;
    if (reused) {
      runs.set(policy.name, { ...reused, policy: policy.name });
      progress.finish(`${tag} = ${policy.aliasOf} (reused)`);
      return;
    }
    const run = runDes({
      workload,
      engine,
      policy,
      seed: options.seed,
      scrapeIntervalMs: options.scrapeIntervalMs,
      kvEventDelayMs: options.kvEventDelayMs,
      routerThreads: options.routerThreads ?? 1,
      onProgress: (p) => {
        const stage = workload.stages[p.stage];
        progress.update(
          `${tag} stage ${p.stage + 1}/${stageCount} (${stage?.name ?? '?'}) ` +
            `requests ${p.settled}/${p.total} sim ${p.simTimeS.toFixed(0)} s elapsed ${progress.elapsedS().toFixed(1)} s`,
        );
      },
    });
    runs.set(policy.name, run);
    progress.finish(
      `${tag} done: ${run.records.length} requests, ${run.simEndS.toFixed(0)} simulated s in ${run.wallS.toFixed(1)} s`,
    );
  });

  const reported = policies.map((policy) => {
    const run = runs.get(policy.name) as RunResult;
    return {
      name: policy.name,
      summary: policy.summary,
      reference: policy.reference,
      ...(policy.aliasOf ? { aliasOf: policy.aliasOf } : {}),
      configYaml: policy.configYaml(engine.blockSize),
      metrics: computeMetrics(run, workload.stages, workload.fleetEvents),
    };
  });
  const ttfts = new Map(
    policies.map((p) => [p.name, ttftSample(runs.get(p.name) as RunResult, workload.stages)]),
  );
  const dir = writeWorkloadResults(options.outDir, {
    workload,
    meta: {
      ...options.meta,
      settings: {
        'Metrics scrape interval': `${options.scrapeIntervalMs} ms`,
        'KV-event delivery delay': `${options.kvEventDelayMs} ms`,
        'Routing threads': `${options.routerThreads ?? 1} (each with its own copy of the policy)`,
      },
    },
    engineSummary: engineSummary(workload, engine),
    policies: reported,
    ttfts,
  });
  return { dir, policies: reported };
}
