/**
 * W9, the no-reuse control (peer-routers.md §11 W9): random 1,024-token prompts with 256-token
 * answers, Poisson at 70% of the fleet's capacity (the middle of §11's 50-90% band), 8 Llama-3.1-8B
 * pods, 40 s. Nothing can be reused, so a cache-aware policy must do no worse than least-load.
 */
import { layoutStages, poissonArrivals } from './arrivals.ts';
import { fleetCapacity } from './capacity.ts';
import { engineConfigForFleet, resolveFleet } from './fleet-shape.ts';
import { chooseStages } from './ladder.ts';
import { limitRequests } from './request-limit.ts';
import { fixedOutput, randomTokens, streamFor } from './token-source.ts';
import type { WorkloadDefinition } from './types.ts';

export const NO_REUSE_SHAPE = { promptLen: 1024, outputLen: 256, loadFraction: 0.7, durationS: 40 };

const SUMMARY = 'W9: no reuse, random 1024 in / 256 out at 70% of capacity';

export const noReuse: WorkloadDefinition = {
  name: 'no-reuse',
  summary: SUMMARY,
  build(options) {
    const shape = NO_REUSE_SHAPE;
    const seed = options.seed;
    const fleet = resolveFleet(options, { pods: 8, profile: 'llama-3.1-8b-h100' });
    const capacity = fleetCapacity(engineConfigForFleet(fleet), fleet.pods, {
      promptTokens: shape.promptLen,
      sharedTokens: 0,
      outputTokens: shape.outputLen,
      residentSharedTokensPerPod: 0,
    });
    const rate = Math.round(capacity.coldRps * shape.loadFraction * 10) / 10;
    const stages = layoutStages(
      chooseStages(options, () => [{ rate, durationS: shape.durationS }], shape.durationS),
    );
    const output = fixedOutput(seed, shape.outputLen);
    const requests = poissonArrivals(stages, streamFor(seed, 'arrivals')).map((arrival, i) => ({
      id: `r${i}`,
      arrivalS: arrival.timeS,
      stage: arrival.stage,
      prompt: () => randomTokens(streamFor(seed, 'prompt', i), shape.promptLen),
      promptLength: shape.promptLen,
      outputTokenIds: output,
    }));
    return {
      name: 'no-reuse',
      description: SUMMARY,
      reference: 'peer-routers.md §11 W9',
      parameters: {
        input_len: shape.promptLen,
        output_len: shape.outputLen,
        rate: stages.map((s) => s.rate).join(', '),
        duration_s: stages.map((s) => s.durationS).join(', '),
      },
      stages,
      requests: limitRequests(requests, options.maxRequests),
      fleetEvents: [],
      fleet,
      notes: [`Capacity estimate ${capacity.coldRps.toFixed(1)} req/s; default rate = 70% of it.`],
    };
  },
};
