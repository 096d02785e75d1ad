/**
 * inference-perf's `shared_prefix` data shape (peer-routers.md §8): `num_groups` system prompts,
 * each followed by `num_prompts_per_group` distinct questions, answered with exactly `output_len`
 * tokens. The data set is the groups × prompts fixed prompts; each arrival sends one of them drawn
 * uniformly at random, so over a long run every prompt repeats and questions are cached too (the
 * working set llm-d sizes to 73% of the fleet's KV is prefixes plus questions).
 */
import type { Random } from '../../src/scheduler/prng.ts';
import { constantArrivals, poissonArrivals } from './arrivals.ts';
import { fixedOutput, randomTokens, streamFor } from './token-source.ts';
import type { Stage, WorkloadRequest } from './types.ts';

export interface SharedPrefixShape {
  readonly groups: number;
  readonly promptsPerGroup: number;
  readonly systemPromptLen: number;
  readonly questionLen: number;
  readonly outputLen: number;
}

/** Tokens of the distinct prompts: what fills the fleet's KV when everything is cached once. */
export function sharedPrefixWorkingSet(shape: SharedPrefixShape): number {
  return shape.groups * shape.systemPromptLen + shape.groups * shape.promptsPerGroup * shape.questionLen;
}

/** The fixed prompt set: system prompt g followed by question q of group g. */
export class SharedPrefixPrompts {
  private readonly systems: number[][];
  private readonly questions: number[][][];

  constructor(
    readonly shape: SharedPrefixShape,
    seed: number,
  ) {
    this.systems = Array.from({ length: shape.groups }, (_, g) =>
      randomTokens(streamFor(seed, 'system', g), shape.systemPromptLen),
    );
    this.questions = Array.from({ length: shape.groups }, (_, g) =>
      Array.from({ length: shape.promptsPerGroup }, (_, q) =>
        randomTokens(streamFor(seed, 'question', g, q), shape.questionLen),
      ),
    );
  }

  /** A fresh array (the engine keeps it while the request runs; nothing else retains it). */
  prompt(group: number, question: number): number[] {
    return (this.systems[group] as number[]).concat(this.questions[group]?.[question] as number[]);
  }

  get promptLength(): number {
    return this.shape.systemPromptLen + this.shape.questionLen;
  }
}

export interface SharedPrefixRequestOptions {
  readonly shape: SharedPrefixShape;
  readonly stages: readonly Stage[];
  readonly arrivals: 'poisson' | 'constant';
  readonly seed: number;
}

/** Requests over `stages`, each one of the fixed prompts drawn uniformly. */
export function sharedPrefixRequests(options: SharedPrefixRequestOptions): WorkloadRequest[] {
  const { shape, stages, seed } = options;
  const prompts = new SharedPrefixPrompts(shape, seed);
  const arrivalRandom = streamFor(seed, 'arrivals');
  const pick: Random = streamFor(seed, 'pick');
  const output = fixedOutput(seed, shape.outputLen);
  const times =
    options.arrivals === 'poisson' ? poissonArrivals(stages, arrivalRandom) : constantArrivals(stages);
  return times.map((arrival, i) => {
    const group = pick.nextInt(shape.groups);
    const question = pick.nextInt(shape.promptsPerGroup);
    return {
      id: `r${i}`,
      arrivalS: arrival.timeS,
      stage: arrival.stage,
      prompt: () => prompts.prompt(group, question),
      promptLength: prompts.promptLength,
      outputTokenIds: output,
    };
  });
}
