/**
 * A back-of-the-envelope capacity estimate from the engine's own step-time model, used to place
 * load ladders relative to what the simulated fleet can serve (peer-routers.md §11: "scale the
 * ladder so that round robin saturates ..."). Not a measurement: it assumes batches as full as KV
 * and `max_num_seqs` allow, which is what a saturated pod runs.
 *
 * Per pod, with step time `a + b·prefill + c·decodeSeqs + d·context` (step-time.ts):
 * - concurrent sequences n = min(max_num_seqs, (KV tokens − resident shared prefixes) / per-sequence
 *   KV), where a sequence holds its uncached prompt plus its output;
 * - a request costs `uncached·b` of prefill plus, per output token, its share of the step:
 *   `a/n + c + d·context` with context = prompt + output/2 (the mean over its decode);
 * - requests/s = 1 / that cost.
 */
import type { EngineConfig } from '../../src/sim/engine/types.ts';

export interface RequestShape {
  readonly promptTokens: number;
  /** Prompt tokens served from the prefix cache. */
  readonly cachedTokens: number;
  readonly outputTokens: number;
  /** KV tokens pinned per pod by cached shared prefixes (not available to sequences). */
  readonly residentSharedTokens: number;
}

/** Requests per second one pod sustains for requests of `shape`. */
export function podRequestRate(config: EngineConfig, shape: RequestShape): number {
  const { a, b, c, d } = config.timing;
  const kvTokens = config.numGpuBlocks * config.blockSize;
  const uncached = Math.max(0, shape.promptTokens - shape.cachedTokens);
  const perSequence = Math.max(1, uncached + shape.outputTokens);
  const room = Math.max(perSequence, kvTokens - shape.residentSharedTokens);
  const sequences = Math.max(1, Math.min(config.maxNumSeqs, Math.floor(room / perSequence)));
  const context = shape.promptTokens + shape.outputTokens / 2;
  const perOutputToken = a / sequences + c + d * context;
  return 1 / (uncached * b + shape.outputTokens * perOutputToken);
}

/** Fleet capacity without and with prefix reuse, requests/s. */
export interface FleetCapacity {
  /** Every prompt computed in full (cache-blind routing at high cache pressure). */
  readonly coldRps: number;
  /** Shared prefixes always cached where the request lands (ideal affinity). */
  readonly warmRps: number;
}

export function fleetCapacity(
  config: EngineConfig,
  pods: number,
  shape: {
    promptTokens: number;
    sharedTokens: number;
    outputTokens: number;
    residentSharedTokensPerPod: number;
  },
): FleetCapacity {
  const cold = podRequestRate(config, {
    promptTokens: shape.promptTokens,
    cachedTokens: 0,
    outputTokens: shape.outputTokens,
    residentSharedTokens: 0,
  });
  const warm = podRequestRate(config, {
    promptTokens: shape.promptTokens,
    cachedTokens: shape.sharedTokens,
    outputTokens: shape.outputTokens,
    residentSharedTokens: shape.residentSharedTokensPerPod,
  });
  return { coldRps: cold * pods, warmRps: warm * pods };
}
