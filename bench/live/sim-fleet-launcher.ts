/**
 * Starts a local simulated fleet for live runs (`--start-sim`): the workload's pods, engine
 * profile, block size and KV size, on free ports, through the sim server's own option plumbing
 * (`fleetOptionsFrom({...SIM_DEFAULTS, ...})`). KV-event sockets and the fleet file are off unless
 * asked for: the direct baseline needs neither; a router under test needs both.
 */
import { SimFleet } from '../../src/sim/server/sim-fleet.ts';
import { fleetOptionsFrom, SIM_DEFAULTS } from '../../src/sim/server/sim-options.ts';
import { getEngineProfile } from '../../src/sim/engine/timing-profiles.ts';
import { UNBOUNDED_WAITING } from '../workloads/fleet-shape.ts';
import type { FleetShape } from '../workloads/types.ts';

export interface LaunchedFleet {
  readonly fleet: SimFleet;
  /** Base URL of each pod, in pod order. */
  readonly urls: readonly string[];
  readonly model: string;
  stop(): Promise<void>;
}

export interface SimLaunchOptions {
  readonly speed: number;
  /** KV-event PUB port of pod 0 (pod i: +i); null = no KV events. */
  readonly kvPort?: number | null;
  /** Fleet file for the router's file discovery; null = none. */
  readonly fleetFile?: string | null;
}

export async function startSimFleet(shape: FleetShape, options: SimLaunchOptions): Promise<LaunchedFleet> {
  const profile = getEngineProfile(shape.profile);
  const kvPort = options.kvPort ?? null;
  const fleet = await SimFleet.start(
    fleetOptionsFrom({
      ...SIM_DEFAULTS,
      pods: shape.pods,
      port: 0,
      kvPort,
      replayPort: kvPort === null ? null : kvPort + 100,
      fleetFile: options.fleetFile ?? null,
      controlPort: null,
      model: profile.model,
      tokenizer: shape.profile.startsWith('qwen') ? 'qwen3' : 'llama3_1',
      profile: shape.profile,
      speed: options.speed,
      blockSize: shape.blockSize,
      numGpuBlocks: shape.numGpuBlocks,
      maxNumSeqs: profile.maxNumSeqs,
      maxNumBatchedTokens: profile.maxNumBatchedTokens,
      maxModelLen: Math.min(profile.maxModelLen, shape.numGpuBlocks * shape.blockSize),
      maxWaiting: UNBOUNDED_WAITING,
    }),
  );
  return {
    fleet,
    urls: fleet.pods.map((pod) => `http://${pod.address}`),
    model: profile.model,
    stop: () => fleet.stop(),
  };
}
