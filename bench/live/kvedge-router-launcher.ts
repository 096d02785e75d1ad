/**
 * Live mode through kvedge itself: starts the real router (the same `Router` as `kvedge serve`)
 * in front of the started sim fleet, discovering the pods from the fleet file and subscribing to
 * their KV events, with the benchmark policy's scheduler config.
 *
 * With `replicas > 1`, N routers run side by side sharing state through Redis (`cluster`), as N
 * `kvedge serve --redis-url` processes behind an L4 balancer would: same config, distinct seeds
 * and replica ids, a key prefix of their own (so an external `--redis-url` never mixes runs). All
 * replicas live in this process, with the sim fleet and the client: they share one event loop,
 * which makes timing figures a pessimistic bound for N > 1 (see bench/README.md).
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { FileDiscovery } from '../../src/fleet/discovery/file-discovery.ts';
import { Router } from '../../src/routing/router.ts';
import type { Policy } from '../policies/policy.ts';
import { engineConfigForFleet } from '../workloads/fleet-shape.ts';
import type { Workload } from '../workloads/types.ts';
import { type BenchRedis, startBenchRedis } from './bench-redis.ts';
import {
  histogramQuantile,
  mergeHistograms,
  metricTotal,
  metricWithLabel,
  nonZeroSeries,
  parseHistogram,
} from './prometheus-text.ts';
import type { LaunchedRouter, ReplicaStats, RouterLauncher, RouterStats } from './router-launcher.ts';

export interface KvedgeRouterOptions {
  /** Router replicas; more than one share state through Redis. Default 1. */
  readonly replicas?: number;
  /** Redis to share state through; default: a private `redis-server` (replicas > 1 only). */
  readonly redisUrl?: string;
  /** Scheduler seed of replica 0; replica i uses `seed + i`. */
  readonly seed: number;
  /** Acceptor threads per router (`--threads`). Default 1. */
  readonly threads?: number;
  /** Placement claims between threads and replicas (`--no-placement-claims` = false). Default true. */
  readonly placementClaims?: boolean;
}

/** Cluster counters reported per replica (`kvedge_cluster_<name>_total`). */
export const CLUSTER_COUNTERS = [
  'degraded_transitions',
  'redis_errors',
  'writes_skipped_degraded',
  'batches_owned',
  'batches_followed',
  'batches_local',
  'changes_published',
  'changes_applied',
  'pod_resyncs',
  'publish_failures',
  'republishes',
  'speculative_published',
  'history_writes',
  'history_received',
  'picker_state_received',
  'inflight_deltas_received',
  'placement_claims_won',
  'placement_claims_taken',
  'placement_claims_unavailable',
] as const;

/** Label of a kvedge router setup in reports: the policy, and the replica count when above one. */
export function routerLabel(policyName: string, replicas: number): string {
  return replicas > 1
    ? `kvedge router (${policyName}) × ${replicas} replicas`
    : `kvedge router (${policyName})`;
}

export function kvedgeRouterLauncher(
  policy: Policy,
  workload: Workload,
  options: KvedgeRouterOptions,
): RouterLauncher {
  if (!policy.configYaml) throw new Error(`policy '${policy.name}' has no scheduler config to run live`);
  const replicas = options.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1) throw new Error(`replicas must be >= 1, got ${replicas}`);
  const blockSize = engineConfigForFleet(workload.fleet).blockSize;
  const configYaml = policy.configYaml(blockSize);
  return {
    label: routerLabel(policy.name, replicas),
    replicas,
    async start(fleet, fleetFile) {
      // Router logs go to stderr: stdout carries the result tables.
      const logger = pino({ level: 'warn' }, pino.destination(2));
      let redis: BenchRedis | null = null;
      const routers: Router[] = [];
      const keyPrefix = `kvedge-bench-${randomBytes(4).toString('hex')}:`;
      try {
        if (replicas > 1) redis = await startBenchRedis(options.redisUrl);
        for (let i = 0; i < replicas; i++) {
          routers.push(
            await Router.start({
              discovery: new FileDiscovery({ path: fleetFile }),
              schedulerConfig: configYaml,
              edge: { host: '127.0.0.1', port: 0 },
              adminPort: 0,
              adminHost: '127.0.0.1',
              threads: options.threads ?? 1,
              placementClaims: options.placementClaims !== false,
              seed: options.seed + i,
              // Live prompts are token ids, which pass through any tokenizer unchanged.
              tokenizers: { [fleet.model]: 'synthetic' },
              indexBlockSize: blockSize,
              logger: logger.child({ replica: i }),
              ...(redis
                ? {
                    cluster: {
                      url: redis.url,
                      keyPrefix,
                      replicaId: `${keyPrefix}r${i}`,
                      placementClaims: { enabled: options.placementClaims !== false },
                    },
                  }
                : {}),
            }),
          );
        }
      } catch (error) {
        await Promise.allSettled(routers.map((r) => r.stop(0)));
        await redis?.stop();
        throw error;
      }
      const baseUrls = routers.map((r) => `http://127.0.0.1:${r.port}`);
      const launched: LaunchedRouter = {
        baseUrls,
        ...(redis ? { redis: { url: redis.url, owned: redis.owned, keyPrefix } } : {}),
        stats: () => readStats(routers, baseUrls, redis !== null),
        async stop() {
          try {
            await Promise.allSettled(routers.map((r) => r.stop(1000)));
          } finally {
            await redis?.stop();
          }
        },
      };
      return launched;
    },
  };
}

async function readStats(
  routers: readonly Router[],
  baseUrls: readonly string[],
  clustered: boolean,
): Promise<RouterStats> {
  const texts = await Promise.all(
    routers.map(async (r) => {
      const response = await fetch(`http://127.0.0.1:${r.adminPort}/metrics`);
      if (response.status !== 200) throw new Error(`router /metrics answered ${response.status}`);
      return response.text();
    }),
  );
  const decisions = mergeHistograms(texts.map((t) => parseHistogram(t, 'kvedge_scheduler_decision_seconds')));
  const waits = mergeHistograms(texts.map((t) => parseHistogram(t, 'kvedge_placement_turn_wait_seconds')));
  const waitCount = texts.reduce(
    (sum, t) => sum + metricTotal(t, 'kvedge_placement_turn_wait_seconds_count'),
    0,
  );
  const replicas: ReplicaStats[] = texts.map((text, i) => ({
    baseUrl: baseUrls[i] as string,
    decisions: metricTotal(text, 'kvedge_scheduler_decision_seconds_count'),
    cluster: clustered
      ? {
          owned_pods: nonZeroSeries(text, 'kvedge_cluster_owned_pods'),
          ...Object.fromEntries(
            CLUSTER_COUNTERS.map((name) => [name, metricTotal(text, `kvedge_cluster_${name}_total`)]),
          ),
          ...Object.fromEntries(
            (['agreed', 'overridden'] as const).map((outcome) => [
              `placement_claims_${outcome}`,
              metricWithLabel(text, 'kvedge_placement_claims_followed_total', 'outcome', outcome),
            ]),
          ),
          ...Object.fromEntries(
            (['served', 'timed_out'] as const).map((outcome) => [
              `turn_waits_${outcome}`,
              metricWithLabel(text, 'kvedge_placement_turn_waits_total', 'outcome', outcome),
            ]),
          ),
        }
      : {},
  }));
  return {
    decisionUs: {
      p50: histogramQuantile(decisions, 0.5) * 1e6,
      p99: histogramQuantile(decisions, 0.99) * 1e6,
    },
    ...(waitCount > 0
      ? {
          turnWaits: {
            count: waitCount,
            p50Ms: histogramQuantile(waits, 0.5) * 1e3,
            p99Ms: histogramQuantile(waits, 0.99) * 1e3,
          },
        }
      : {}),
    replicas,
  };
}
