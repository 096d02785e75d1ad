/**
 * W3, SGLang's generated-shared-prefix benchmark from the cache-aware router blog (peer-routers.md
 * §1.10 and §11 W3): `bench_serving --dataset-name generated-shared-prefix` at its defaults, 64
 * groups × 16 prompts = 1,024 requests, system prompt 2,048 tokens, question 128, output 256,
 * request rate "inf" (everything sent at t = 0, in shuffled order), 8 workers of Llama-3.1-8B.
 * Runs at full scale. `--rate` replaces "inf" with Poisson arrivals at that rate.
 */
import type { Random } from '../../src/scheduler/prng.ts';
import { layoutStages, poissonArrivals } from './arrivals.ts';
import { resolveFleet } from './fleet-shape.ts';
import { limitRequests } from './request-limit.ts';
import { fixedOutput, randomTokens, streamFor } from './token-source.ts';
import type { Stage, WorkloadDefinition, WorkloadRequest } from './types.ts';

export const GSP_SHAPE = {
  groups: 64,
  promptsPerGroup: 16,
  systemPromptLen: 2048,
  questionLen: 128,
  outputLen: 256,
};

const SUMMARY = 'W3: SGLang generated-shared-prefix, 64×16 (2048/128/256), all at t=0';

function shuffleInPlace<T>(items: T[], random: Random): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = random.nextInt(i + 1);
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
}

export const sglangGsp: WorkloadDefinition = {
  name: 'sglang-gsp',
  summary: SUMMARY,
  build(options) {
    const shape = GSP_SHAPE;
    const fleet = resolveFleet(options, { pods: 8, profile: 'llama-3.1-8b-h100' });
    const seed = options.seed;
    const systems = Array.from({ length: shape.groups }, (_, g) =>
      randomTokens(streamFor(seed, 'system', g), shape.systemPromptLen),
    );
    const output = fixedOutput(seed, shape.outputLen);
    const pairs: [number, number][] = [];
    for (let g = 0; g < shape.groups; g++) for (let q = 0; q < shape.promptsPerGroup; q++) pairs.push([g, q]);
    shuffleInPlace(pairs, streamFor(seed, 'shuffle'));

    let stages: Stage[];
    let times: number[];
    if (options.rate !== undefined) {
      const duration = options.durationS ?? pairs.length / options.rate;
      stages = layoutStages([{ rate: options.rate, durationS: duration }]);
      times = poissonArrivals(stages, streamFor(seed, 'arrivals')).map((a) => a.timeS);
    } else {
      stages = [{ index: 0, name: 'rate inf', rate: null, startS: 0, durationS: 0, warmup: false }];
      times = pairs.map(() => 0);
    }
    const requests: WorkloadRequest[] = [];
    for (let i = 0; i < Math.min(times.length, pairs.length); i++) {
      const [g, q] = pairs[i] as [number, number];
      requests.push({
        id: `r${i}`,
        arrivalS: times[i] as number,
        stage: 0,
        prompt: () =>
          (systems[g] as number[]).concat(randomTokens(streamFor(seed, 'question', g, q), shape.questionLen)),
        promptLength: shape.systemPromptLen + shape.questionLen,
        outputTokenIds: output,
      });
    }
    return {
      name: 'sglang-gsp',
      description: SUMMARY,
      reference: 'peer-routers.md §1.10, §11 W3',
      parameters: {
        'gsp-num-groups': shape.groups,
        'gsp-prompts-per-group': shape.promptsPerGroup,
        'gsp-system-prompt-len': shape.systemPromptLen,
        'gsp-question-len': shape.questionLen,
        'gsp-output-len': shape.outputLen,
        'request-rate': options.rate ?? 'inf',
      },
      stages,
      requests: limitRequests(requests, options.maxRequests),
      fleetEvents: [],
      fleet,
      notes: [
        'Full scale (1,024 requests). The blog ran Llama-3.1-8B on 8×A100 (DP 8); here 8 simulated H100 pods.',
      ],
    };
  },
};
