/**
 * One workload in live mode: optionally starts a local sim fleet (`--start-sim`), sends the
 * workload to `--target-url` (or to the started pods directly, client-side round robin: the
 * "direct" baseline; or through router replicas started by a {@link RouterLauncher}), and writes
 * the same report as DES mode with the measured setup as the single "policy".
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchOptions } from '../cli/options.ts';
import type { ProgressDisplay } from '../cli/progress.ts';
import { engineSummary } from '../des/des-benchmark.ts';
import type { ReportedPolicy } from '../report/markdown.ts';
import { computeMetrics, ttftSample } from '../report/policy-metrics.ts';
import { replicaRunSection } from '../report/replica-report.ts';
import { writeWorkloadResults } from '../report/results-writer.ts';
import type { RunMeta } from '../report/run-meta.ts';
import { engineConfigForFleet } from '../workloads/fleet-shape.ts';
import type { Workload } from '../workloads/types.ts';
import { freeKvPortBase } from './free-ports.ts';
import { runLive } from './live-driver.ts';
import type { ReplicaSpread } from './replica-spread.ts';
import type { LaunchedRouter, RouterLauncher, RouterStats } from './router-launcher.ts';
import { type LaunchedFleet, startSimFleet } from './sim-fleet-launcher.ts';
import type { SimFleet } from '../../src/sim/server/sim-fleet.ts';

export interface LiveBenchmarkOptions {
  readonly workload: Workload;
  readonly options: BenchOptions;
  readonly meta: Omit<RunMeta, 'settings'>;
  readonly progress: ProgressDisplay;
  /** Starts router replicas in front of the sim fleet (requires --start-sim). */
  readonly router?: RouterLauncher;
}

/** One live run, measured but not yet written. */
export interface LiveMeasurement {
  readonly label: string;
  readonly reported: ReportedPolicy;
  /** Sorted TTFTs (s), for the CDF chart. */
  readonly ttfts: Float64Array;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly engineSummary: string;
  /** Router replicas measured (1 without a router). */
  readonly replicas: number;
  readonly requestsPerTarget: Readonly<Record<string, number>>;
  /** The routers' own figures, when the run started them. */
  readonly routerStats: RouterStats | null;
}

const SPREAD_NOTES: Record<ReplicaSpread, string> = {
  request:
    'round robin per request (an L4 balancer, new connection per request: turns of a conversation land on different targets)',
  conversation: 'per conversation (each conversation stays on the target of its first turn)',
};

/** Starts what the options ask for, runs the workload, stops everything, and computes the figures. */
/**
 * Every pod of a sim fleet by the name its responses carry (`x-kvedge-sim-pod`), so the spread
 * figures of a run through a router count the pods no request reached.
 */
export function podNames(fleet: Pick<SimFleet, 'pods'>): string[] {
  return fleet.pods.map((pod) => pod.config.name);
}

export async function measureLive(live: LiveBenchmarkOptions): Promise<LiveMeasurement> {
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
        ...(live.router ? { kvPort: await freeKvPortBase(workload.fleet.pods), fleetFile } : {}),
      });
      if (live.router) {
        if (live.router.replicas > 1) {
          progress.finish(
            `[${workload.name}] starting ${live.router.replicas} router replicas sharing state through ${options.redisUrl ?? 'a private redis-server'}`,
          );
        }
        router = await live.router.start(fleet, fleetFile);
        targets = router.baseUrls;
        label = options.label ?? live.router.label;
      } else if (targets.length === 0) {
        targets = fleet.urls;
        label = options.label ?? 'direct (client round robin)';
      }
    }
    const model = fleet?.model ?? engine.model;
    const spread = options.replicaSpread ?? 'request';
    const run = await runLive({
      workload,
      targets,
      model,
      label,
      spread,
      ...(router && fleet ? { podIds: podNames(fleet.fleet) } : {}),
      onProgress: (settled, total, stage) =>
        progress.update(
          `[${workload.name} live ${label}] stage ${stage + 1}/${workload.stages.length} requests ${settled}/${total} elapsed ${progress.elapsedS().toFixed(1)} s`,
        ),
    });
    progress.finish(
      `[${workload.name} live ${label}] done: ${run.records.length} requests in ${run.wallS.toFixed(1)} s`,
    );
    const routerStats = router ? await router.stats() : null;
    const computed = computeMetrics(run, workload.stages);
    const replicas = router?.baseUrls.length ?? 1;
    return {
      label,
      reported: {
        name: label,
        summary: `live measurement against ${targets.join(', ')}`,
        reference: 'client-side timing over HTTP/SSE',
        // The client cannot time decisions; the routers' histogram can.
        metrics: routerStats ? { ...computed, decisionUs: routerStats.decisionUs } : computed,
      },
      ttfts: ttftSample(run, workload.stages),
      settings: {
        Targets: targets.join(', '),
        'Sim fleet': fleet ? `started locally, speed ×${options.simSpeed}` : 'external',
        ...(router
          ? {
              'Router replicas': replicas,
              'Shared state':
                router.redis === undefined
                  ? 'none (one router)'
                  : `Redis ${router.redis.url}${router.redis.owned ? ' (private redis-server started for this run)' : ''}, key prefix ${router.redis.keyPrefix}`,
              'Decision time':
                "router-side, interpolated from the routers' kvedge_scheduler_decision_seconds buckets",
            }
          : {}),
        ...(targets.length > 1 ? { 'Request spread': SPREAD_NOTES[spread] } : {}),
        'Multi-turn note': "follow-up prompts carry the workload's answer tokens, not the server's",
      },
      engineSummary: fleet ? engineSummary(workload, engine) : 'external server (engine unknown)',
      replicas,
      requestsPerTarget: run.requestsPerTarget,
      routerStats,
    };
  } finally {
    await router?.stop();
    await fleet?.stop();
  }
}

/** Measures one live run and writes its results under `<out>/<workload>-live[-<N>-replicas]/`. */
export async function runLiveBenchmark(
  live: LiveBenchmarkOptions,
): Promise<{ dir: string; policies: readonly ReportedPolicy[] }> {
  const { workload, options } = live;
  const measured = await measureLive(live);
  const dir = writeWorkloadResults(options.out, {
    workload,
    dirName: `${workload.name}-live${measured.replicas > 1 ? `-${measured.replicas}-replicas` : ''}`,
    meta: { ...live.meta, settings: measured.settings },
    engineSummary: measured.engineSummary,
    policies: [{ ...measured.reported, configYaml: '' }],
    ttfts: new Map([[measured.label, measured.ttfts]]),
    ...(measured.routerStats
      ? { sections: [replicaRunSection(measured.routerStats, measured.requestsPerTarget)] }
      : {}),
    extraJson: {
      replicas: measured.replicas,
      requestsPerTarget: measured.requestsPerTarget,
      ...(measured.routerStats ? { routerStats: measured.routerStats } : {}),
    },
  });
  return { dir, policies: [measured.reported] };
}
