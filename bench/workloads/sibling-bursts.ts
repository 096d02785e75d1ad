/**
 * W8, sibling bursts (peer-routers.md §11 W8, §9 item 10): 16 problems × 4 samples (parallel
 * sampling, n = 4) sent at the same instant, every 10 s, 6 bursts. The 4 samples of a problem are
 * the same 6,000-token prompt; each burst brings new problems. The siblings reach the router before
 * any KV event for their prefix can, so only a policy that predicts (speculative index insert,
 * route-time tree insert) keeps them together; the rest prefill the prefix on up to 4 pods.
 */
import { resolveFleet } from './fleet-shape.ts';
import { limitRequests } from './request-limit.ts';
import { fixedOutput, randomTokens, streamFor } from './token-source.ts';
import type { Stage, WorkloadDefinition, WorkloadRequest } from './types.ts';

export const SIBLING_SHAPE = {
  problems: 16,
  samples: 4,
  promptLen: 6000,
  outputLen: 256,
  bursts: 6,
  periodS: 10,
};

const SUMMARY = 'W8: sibling bursts, 16 problems × 4 samples of a 6k prompt at one instant, every 10 s';

export const siblingBursts: WorkloadDefinition = {
  name: 'sibling-bursts',
  summary: SUMMARY,
  build(options) {
    const shape = SIBLING_SHAPE;
    const seed = options.seed;
    const fleet = resolveFleet(options, { pods: 8, profile: 'llama-3.1-8b-h100' });
    const output = fixedOutput(seed, shape.outputLen);
    const stages: Stage[] = [];
    const requests: WorkloadRequest[] = [];
    for (let burst = 0; burst < shape.bursts; burst++) {
      const at = burst * shape.periodS;
      stages.push({
        index: burst,
        name: `burst ${burst + 1}`,
        rate: null,
        startS: at,
        durationS: shape.periodS,
        warmup: false,
      });
      for (let problem = 0; problem < shape.problems; problem++) {
        for (let sample = 0; sample < shape.samples; sample++) {
          requests.push({
            id: `b${burst}p${problem}s${sample}`,
            group: `b${burst}p${problem}`,
            arrivalS: at,
            stage: burst,
            prompt: () => randomTokens(streamFor(seed, 'problem', burst, problem), shape.promptLen),
            promptLength: shape.promptLen,
            outputTokenIds: output,
          });
        }
      }
    }
    return {
      name: 'sibling-bursts',
      description: SUMMARY,
      reference: 'peer-routers.md §11 W8',
      parameters: {
        problems: shape.problems,
        samples_per_problem: shape.samples,
        prompt_len: shape.promptLen,
        output_len: shape.outputLen,
        bursts: shape.bursts,
        period_s: shape.periodS,
      },
      stages,
      requests: limitRequests(requests, options.maxRequests),
      fleetEvents: [],
      fleet,
      notes: [
        'Ideal placement prefills each problem once: hit rate 3/4 of prompt tokens (minus the partial last block).',
      ],
    };
  },
};
