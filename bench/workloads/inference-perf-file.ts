/**
 * `--workload inference-perf --workload-file <config.yaml>`: an inference-perf `shared_prefix`
 * config (inference-perf-config.ts) run as written: its stages, its arrival process, its shape.
 * Fleet: 8 pods of Qwen-32B TP2 (llm-d's deployment) unless `--pods` / `--profile` say otherwise.
 */
import { readFileSync } from 'node:fs';
import { layoutStages } from './arrivals.ts';
import { resolveFleet } from './fleet-shape.ts';
import { parseInferencePerfConfig } from './inference-perf-config.ts';
import { chooseStages } from './ladder.ts';
import { limitRequests } from './request-limit.ts';
import { sharedPrefixRequests, sharedPrefixWorkingSet } from './shared-prefix-requests.ts';
import type { WorkloadDefinition } from './types.ts';

const SUMMARY = 'inference-perf shared_prefix config file (--workload-file)';

export const inferencePerfFile: WorkloadDefinition = {
  name: 'inference-perf',
  summary: SUMMARY,
  build(options) {
    if (!options.file) throw new Error('--workload inference-perf needs --workload-file <config.yaml>');
    const config = parseInferencePerfConfig(readFileSync(options.file, 'utf8'));
    const seed = config.seed ?? options.seed;
    const fleet = resolveFleet(options, { pods: 8, profile: 'qwen2.5-32b-h100-tp2' });
    const stages = layoutStages(
      chooseStages(
        {
          ...options,
          ...(config.load && !options.ladder && options.rate === undefined
            ? { ladder: config.load.stages }
            : {}),
        },
        () => {
          throw new Error(`${options.file}: no load stages; add a 'load' section or pass --rate/--ladder`);
        },
        60,
      ),
    );
    const arrivals = config.load?.type ?? 'poisson';
    const requests = sharedPrefixRequests({ shape: config.shape, stages, arrivals, seed });
    const workingSet = sharedPrefixWorkingSet(config.shape);
    return {
      name: 'inference-perf',
      description: `${SUMMARY}: ${options.file}`,
      reference: 'peer-routers.md §8 (inference-perf shared_prefix)',
      parameters: {
        file: options.file,
        num_groups: config.shape.groups,
        num_prompts_per_group: config.shape.promptsPerGroup,
        system_prompt_len: config.shape.systemPromptLen,
        question_len: config.shape.questionLen,
        output_len: config.shape.outputLen,
        load: arrivals,
        stages: stages.map((s) => `${s.name}×${s.durationS}s`).join(', '),
      },
      stages,
      requests: limitRequests(requests, options.maxRequests),
      fleetEvents: [],
      fleet,
      notes: [
        `Working set ${workingSet.toLocaleString('en-US')} tokens = ${((100 * workingSet) / (fleet.pods * fleet.numGpuBlocks * fleet.blockSize)).toFixed(1)}% of the fleet's KV.`,
      ],
    };
  },
};
