/**
 * One workload in live mode: optionally starts a local sim fleet (`--start-sim`), sends the
 * workload to `--target-url` (or to the started pods directly, client-side round robin: the
 * "direct" baseline; or through a router started by a {@link RouterLauncher}), and writes the
 * same report as DES mode with the measured setup as the single "policy".
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchOptions } from '../cli/options.ts';
import type { ProgressDisplay } from '../cli/progress.ts';
import { engineSummary } from '../des/des-benchmark.ts';
import type { ReportedPolicy } from '../report/markdown.ts';
import { computeMetrics, ttftSample } from '../report/policy-metrics.ts';
import { writeWorkloadResults } from '../report/results-writer.ts';
import type { RunMeta } from '../report/run-meta.ts';
import { engineConfigForFleet } from '../workloads/fleet-shape.ts';
import type { Workload } from '../workloads/types.ts';
import { runLive } from './live-driver.ts';
import type { LaunchedRouter, RouterLauncher } from './router-launcher.ts';
import { type LaunchedFleet, startSimFleet } from './sim-fleet-launcher.ts';

export interface LiveBenchmarkOptions {
  readonly workload: Workload;
  readonly options: BenchOptions;
  readonly meta: Omit<RunMeta, 'settings'>;
  readonly progress: ProgressDisplay;
  /** Starts a router in front of the sim fleet (requires --start-sim). */
  readonly router?: RouterLauncher;
}

export async function runLiveBenchmark(
  live: LiveBenchmarkOptions,
): Promise<{ dir: string; policies: readonly ReportedPolicy[] }> {
  const { workload, options, progress } = live;
  if (!options.startSim && options.targetUrls.length === 0) {
    throw new Error('live mode needs --target-url <url[,url...]> or --start-sim');
  }
  const engine = engineConfigForFleet(workload.fleet);
  let fleet: LaunchedFleet | null = null;
  let router: LaunchedRouter | null = null;
  try {
    let targets = options.targetUrls;
    let label = options.label ?? 'target';
    if (options.startSim) {
      progress.finish(
        `[${workload.name}] starting ${workload.fleet.pods} sim pods (${workload.fleet.profile})`,
      );
      const fleetFile = join(mkdtempSync(join(tmpdir(), 'kvedge-bench-')), 'fleet.yaml');
      fleet = await startSimFleet(workload.fleet, {
        speed: options.simSpeed,
        ...(live.router ? { kvPort: 15557, fleetFile } : {}),
      });
      if (live.router) {
        router = await live.router.start(fleet, fleetFile);
        targets = [router.baseUrl];
        label = options.label ?? live.router.label;
      } else if (targets.length === 0) {
        targets = fleet.urls;
        label = options.label ?? 'direct (client round robin)';
      }
    }
    const model = fleet?.model ?? engine.model;
    const run = await runLive({
      workload,
      targets,
      model,
      label,
      onProgress: (settled, total, stage) =>
        progress.update(
          `[${workload.name} live ${label}] stage ${stage + 1}/${workload.stages.length} requests ${settled}/${total} elapsed ${progress.elapsedS().toFixed(1)} s`,
        ),
    });
    progress.finish(
      `[${workload.name} live ${label}] done: ${run.records.length} requests in ${run.wallS.toFixed(1)} s`,
    );
    const policies: ReportedPolicy[] = [
      {
        name: label,
        summary: `live measurement against ${targets.join(', ')}`,
        reference: 'client-side timing over HTTP/SSE',
        metrics: computeMetrics(run, workload.stages),
      },
    ];
    const dir = writeWorkloadResults(options.out, {
      workload,
      dirName: `${workload.name}-live`,
      meta: {
        ...live.meta,
        settings: {
          Targets: targets.join(', '),
          'Sim fleet': fleet ? `started locally, speed ×${options.simSpeed}` : 'external',
          'Multi-turn note': "follow-up prompts carry the workload's answer tokens, not the server's",
        },
      },
      engineSummary: fleet ? engineSummary(workload, engine) : 'external server (engine unknown)',
      policies: policies.map((p) => ({ ...p, configYaml: '' })),
      ttfts: new Map([[label, ttftSample(run, workload.stages)]]),
    });
    return { dir, policies };
  } finally {
    await router?.stop();
    await fleet?.stop();
  }
}
