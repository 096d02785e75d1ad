/**
 * Resolves the fleet a workload runs on (pods, engine profile, block size, KV blocks) and turns it
 * into the engine config every simulated pod gets.
 */
import { engineConfigFor, getEngineProfile } from '../../src/sim/engine/timing-profiles.ts';
import type { EngineConfig } from '../../src/sim/engine/types.ts';
import type { FleetShape, WorkloadOptions } from './types.ts';

/**
 * Block size of every simulated pod unless overridden: llm-d's guides and benchmark run vLLM with
 * `--block-size 64` (llm-d-router.md §3.5b; peer-routers.md §8, §11), and the precise index must
 * use the engine's block size or a multiple of it.
 */
export const DEFAULT_BLOCK_SIZE = 64;

/**
 * vLLM queues without bound; the simulator's default bound (1000, llm-d-inference-sim's) would turn
 * round-robin's collapse into 429s instead of the queueing delay real deployments show.
 */
export const UNBOUNDED_WAITING = 1_000_000;

export interface FleetDefaults {
  readonly pods: number;
  readonly profile: string;
  /** KV tokens per pod for a given pod count; default: the profile's own KV size. */
  readonly kvTokensPerPod?: (pods: number) => number;
  /** The workload's own heterogeneity (odd pods this many times slower); `--slow-pods` overrides it. */
  readonly slowFactor?: number;
}

/** Command-line overrides applied over a workload's defaults. */
export function resolveFleet(options: WorkloadOptions, defaults: FleetDefaults): FleetShape {
  const pods = options.pods ?? defaults.pods;
  const profile = options.profile ?? defaults.profile;
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!Number.isInteger(pods) || pods < 1) throw new RangeError(`pods must be an integer >= 1, got ${pods}`);
  const kvTokens = defaults.kvTokensPerPod?.(pods) ?? getEngineProfile(profile).timing.kvCacheTokens;
  const slowFactor = options.slowFactor ?? defaults.slowFactor;
  return {
    pods,
    profile,
    blockSize,
    numGpuBlocks: Math.floor(kvTokens / blockSize),
    ...(slowFactor !== undefined && slowFactor !== 1
      ? { slowdown: alternateSlowdown(pods, slowFactor) }
      : {}),
  };
}

/** Half the fleet slowed down: the odd-indexed pods, so any prefix of the pod list stays mixed. */
export function alternateSlowdown(pods: number, factor: number): number[] {
  if (!(factor > 0) || !Number.isFinite(factor))
    throw new RangeError(`slow factor must be > 0, got ${factor}`);
  return Array.from({ length: pods }, (_, i) => (i % 2 === 1 ? factor : 1));
}

/**
 * A pod's engine config in a heterogeneous fleet: every step-time coefficient multiplied by the
 * pod's slowdown (an older GPU generation, or a pod sharing its GPU), the KV size unchanged.
 */
export function slowedEngineConfig(config: EngineConfig, slowdown: number): EngineConfig {
  if (slowdown === 1) return config;
  const t = config.timing;
  return {
    ...config,
    timing: {
      ...t,
      name: `${t.name} ×${slowdown} slower`,
      a: t.a * slowdown,
      b: t.b * slowdown,
      c: t.c * slowdown,
      d: t.d * slowdown,
    },
  };
}

/**
 * The fleet's capacity relative to the same number of unslowed pods: the mean of each pod's
 * speed (1 / slowdown), so a workload can place its load ladder against what the fleet can serve.
 */
export function relativeFleetSpeed(fleet: FleetShape): number {
  if (!fleet.slowdown) return 1;
  return fleet.slowdown.reduce((sum, s) => sum + 1 / s, 0) / fleet.slowdown.length;
}

/** The engine config of one pod of `fleet`. */
export function engineConfigForFleet(fleet: FleetShape): EngineConfig {
  const profile = getEngineProfile(fleet.profile);
  const capacity = fleet.numGpuBlocks * fleet.blockSize;
  return engineConfigFor(fleet.profile, {
    blockSize: fleet.blockSize,
    numGpuBlocks: fleet.numGpuBlocks,
    maxWaitingRequests: UNBOUNDED_WAITING,
    // vLLM refuses a max length the KV cache cannot hold; shrink it for small scaled-down pools.
    maxModelLen: Math.min(profile.maxModelLen, capacity),
  });
}
