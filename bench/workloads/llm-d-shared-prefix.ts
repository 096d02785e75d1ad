/**
 * W1, llm-d's canonical shared-prefix benchmark (peer-routers.md §8 and §11 W1): inference-perf
 * `shared_prefix` with 150 groups × 5 prompts, system prompt 6,000 tokens, question 1,200, output
 * 1,000 (ignore_eos), Poisson arrivals over a warm-up and a load ladder; 8 pods of Qwen-32B on
 * 2×H100 (TP2) with vLLM block size 64.
 *
 * KV per pod is sized so the working set (150 × 6,000 + 750 × 1,200 = 1.8M tokens) is 73.2% of
 * the fleet's KV: 4,802 blocks of 64 per pod at 8 pods, exactly llm-d's sim setting (§11).
 *
 * Scaled to run here: llm-d's ladder (3 → 60 QPS, ~16k requests) is replaced by one placed against
 * the simulated fleet's capacity (ladder.ts): a 30 s warm-up and six 40 s stages.
 */
import { getEngineProfile } from '../../src/sim/engine/timing-profiles.ts';
import { layoutStages } from './arrivals.ts';
import { fleetCapacity } from './capacity.ts';
import { engineConfigForFleet, relativeFleetSpeed, resolveFleet } from './fleet-shape.ts';
import { capacityLadder, chooseStages } from './ladder.ts';
import { limitRequests } from './request-limit.ts';
import {
  type SharedPrefixShape,
  sharedPrefixRequests,
  sharedPrefixWorkingSet,
} from './shared-prefix-requests.ts';
import type { Workload, WorkloadDefinition, WorkloadOptions } from './types.ts';

export const W1_SHAPE: SharedPrefixShape = {
  groups: 150,
  promptsPerGroup: 5,
  systemPromptLen: 6000,
  questionLen: 1200,
  outputLen: 1000,
};

/** Working set / fleet KV in llm-d's W1 deployment (1.8M / (8 × 307,328)). */
export const W1_KV_FRACTION = 0.732;
export const W1_STAGE_SECONDS = 40;
export const W1_WARMUP_SECONDS = 30;

/** W1's fleet: 8 × Qwen2.5-32B TP2 pods whose KV makes the working set W1_KV_FRACTION of the fleet's. */
export function w1Fleet(
  options: Parameters<typeof resolveFleet>[0],
  slowFactor?: number,
): ReturnType<typeof resolveFleet> {
  const workingSet = sharedPrefixWorkingSet(W1_SHAPE);
  return resolveFleet(options, {
    pods: 8,
    profile: 'qwen2.5-32b-h100-tp2',
    kvTokensPerPod: (pods) => workingSet / (W1_KV_FRACTION * pods),
    ...(slowFactor !== undefined ? { slowFactor } : {}),
  });
}

const SUMMARY = "W1: llm-d's 150×5 shared prefix (6000/1200/1000) over a capacity-placed load ladder";
const HETEROGENEOUS_SUMMARY =
  'W1 on a heterogeneous fleet: the odd pods 2× slower, ladder placed against its capacity';

/** The heterogeneous variant's slowdown of the odd pods (issue 7: "half the pods 2x slower"). */
export const HETEROGENEOUS_SLOW_FACTOR = 2;

export const llmdSharedPrefix: WorkloadDefinition = {
  name: 'llm-d-shared-prefix',
  summary: SUMMARY,
  build: (options) => buildW1(options, 'llm-d-shared-prefix', SUMMARY),
};

export const llmdSharedPrefixHeterogeneous: WorkloadDefinition = {
  name: 'llm-d-shared-prefix-heterogeneous',
  summary: HETEROGENEOUS_SUMMARY,
  build: (options) =>
    buildW1(options, 'llm-d-shared-prefix-heterogeneous', HETEROGENEOUS_SUMMARY, HETEROGENEOUS_SLOW_FACTOR),
};

function buildW1(options: WorkloadOptions, name: string, summary: string, slowFactor?: number): Workload {
  const shape = W1_SHAPE;
  const workingSet = sharedPrefixWorkingSet(shape);
  const fleet = w1Fleet(options, slowFactor);
  const config = engineConfigForFleet(fleet);
  // A slowed pod serves proportionally less: place the ladder against what this fleet can do.
  const speed = relativeFleetSpeed(fleet);
  const uniform = fleetCapacity(config, fleet.pods, {
    promptTokens: shape.systemPromptLen + shape.questionLen,
    sharedTokens: shape.systemPromptLen,
    outputTokens: shape.outputLen,
    residentSharedTokensPerPod: (shape.groups * shape.systemPromptLen) / fleet.pods,
  });
  const capacity = { coldRps: uniform.coldRps * speed, warmRps: uniform.warmRps * speed };
  const stages = layoutStages(
    chooseStages(options, () => capacityLadder(capacity, W1_STAGE_SECONDS, W1_WARMUP_SECONDS), 120),
  );
  const requests = limitRequests(
    sharedPrefixRequests({ shape, stages, arrivals: 'poisson', seed: options.seed }),
    options.maxRequests,
  );
  const kvShare = workingSet / (fleet.pods * fleet.numGpuBlocks * fleet.blockSize);
  return {
    name,
    description: summary,
    reference: 'peer-routers.md §8, §11 W1',
    parameters: {
      num_groups: shape.groups,
      num_prompts_per_group: shape.promptsPerGroup,
      system_prompt_len: shape.systemPromptLen,
      question_len: shape.questionLen,
      output_len: shape.outputLen,
      arrivals: 'poisson',
      stages: stages.map((s) => `${s.name}×${s.durationS}s`).join(', '),
    },
    stages,
    requests,
    fleetEvents: [],
    fleet,
    notes: [
      `Fleet: ${fleet.pods} × ${getEngineProfile(fleet.profile).timing.description}${fleet.slowdown ? ` (step times × ${fleet.slowdown.join(', ')} by pod: ${(speed * 100).toFixed(0)}% of a uniform fleet's speed)` : ''}; ${fleet.numGpuBlocks} KV blocks of ${fleet.blockSize} per pod; working set ${workingSet.toLocaleString('en-US')} tokens = ${(kvShare * 100).toFixed(1)}% of the fleet's KV.`,
      `Capacity estimate (step-time model, full batches): cache-blind ${capacity.coldRps.toFixed(1)} req/s, ideal affinity ${capacity.warmRps.toFixed(1)} req/s.`,
      `Ladder: warm-up at the first step's rate, then ${stages
        .filter((s) => !s.warmup)
        .map((s) => s.rate)
        .join(
          ', ',
        )} req/s: 0.3 to 1.0 × a top of min(1.8× cache-blind, 0.9× ideal-affinity capacity), most stages past round robin's saturation as in llm-d's 3→60 QPS ladder (ladder.ts).`,
    ],
  };
}
