/**
 * W5, one dominant prefix (peer-routers.md §11 W5, from SGLang issue #21199): 1 group × 400
 * prompts, system prompt 2,548 tokens, question 7,252, output 430, Poisson at 3 req/s, 2 workers.
 * Every request matches the same prefix, so a policy that follows affinity without watching load
 * piles everything onto one worker (the issue measured cache_aware at 1.6 s TTFT vs round robin's
 * 0.63 s). Full scale; Llama-3.1-8B pods stand in for the Kimi-K2.5.
 */
import { layoutStages } from './arrivals.ts';
import { resolveFleet } from './fleet-shape.ts';
import { chooseStages } from './ladder.ts';
import { limitRequests } from './request-limit.ts';
import { sharedPrefixRequests } from './shared-prefix-requests.ts';
import type { WorkloadDefinition } from './types.ts';

export const SINGLE_PREFIX_SHAPE = {
  groups: 1,
  promptsPerGroup: 400,
  systemPromptLen: 2548,
  questionLen: 7252,
  outputLen: 430,
};

const SUMMARY = 'W5: one dominant prefix, 1×400 (2548/7252/430) at 3 req/s on 2 pods';

export const singlePrefix: WorkloadDefinition = {
  name: 'single-prefix',
  summary: SUMMARY,
  build(options) {
    const fleet = resolveFleet(options, { pods: 2, profile: 'llama-3.1-8b-h100' });
    const rate = 3;
    // 400 prompts at 3 req/s: ~133 s, so each prompt is sent about once, as in the issue.
    const stages = layoutStages(
      chooseStages(options, () => [{ rate, durationS: SINGLE_PREFIX_SHAPE.promptsPerGroup / rate }], 120),
    );
    const requests = sharedPrefixRequests({
      shape: SINGLE_PREFIX_SHAPE,
      stages,
      arrivals: 'poisson',
      seed: options.seed,
    });
    return {
      name: 'single-prefix',
      description: SUMMARY,
      reference: 'peer-routers.md §1.10 (SGLang #21199), §11 W5',
      parameters: {
        num_groups: 1,
        num_prompts_per_group: SINGLE_PREFIX_SHAPE.promptsPerGroup,
        system_prompt_len: SINGLE_PREFIX_SHAPE.systemPromptLen,
        question_len: SINGLE_PREFIX_SHAPE.questionLen,
        output_len: SINGLE_PREFIX_SHAPE.outputLen,
        rate: stages.map((s) => s.rate).join(', '),
      },
      stages,
      requests: limitRequests(requests, options.maxRequests),
      fleetEvents: [],
      fleet,
      notes: [
        'Questions are drawn uniformly from the 400, so a few repeat; the shared 2,548-token prefix dominates.',
      ],
    };
  },
};
