/**
 * Reads an inference-perf config with a `shared_prefix` data section (peer-routers.md §8):
 *
 * ```yaml
 * load:
 *   type: poisson          # or constant
 *   stages: [{rate: 3, duration: 20}, ...]
 * data:
 *   type: shared_prefix
 *   shared_prefix: {num_groups, num_prompts_per_group, system_prompt_len, question_len, output_len}
 * ```
 *
 * The legacy aliases `num_unique_system_prompts` / `num_users_per_system_prompt` are accepted.
 * A file holding only the `shared_prefix` mapping is accepted too (then `--rate`/`--ladder` set the
 * load). Other sections (api, server, tokenizer, ...) are ignored: the benchmark owns them.
 * `enable_multi_turn_chat` and length distributions are rejected rather than silently changed.
 */
import { parse } from 'yaml';
import { z } from 'zod';
import type { SharedPrefixShape } from './shared-prefix-requests.ts';
import type { LoadStage } from './types.ts';

const positive = z.int().positive();

const sharedPrefixSchema = z
  .object({
    num_groups: positive.optional(),
    num_unique_system_prompts: positive.optional(),
    num_prompts_per_group: positive.optional(),
    num_users_per_system_prompt: positive.optional(),
    system_prompt_len: positive.default(100),
    question_len: positive.default(50),
    output_len: positive.default(50),
    enable_multi_turn_chat: z.literal(false).optional(),
    seed: z.int().optional(),
  })
  .strict();

const loadSchema = z.object({
  type: z.enum(['poisson', 'constant']).default('constant'),
  stages: z.array(z.object({ rate: z.number().positive(), duration: z.number().positive() })).min(1),
});

const configSchema = z.object({
  load: loadSchema.optional(),
  data: z.object({ type: z.literal('shared_prefix'), shared_prefix: sharedPrefixSchema.prefault({}) }),
});

export interface InferencePerfWorkload {
  readonly shape: SharedPrefixShape;
  /** Absent when the file has no `load` section. */
  readonly load?: { readonly type: 'poisson' | 'constant'; readonly stages: readonly LoadStage[] };
  /** `shared_prefix.seed`, when the file pins one. */
  readonly seed?: number;
}

/** Parses the YAML text; throws an Error naming the offending field. */
export function parseInferencePerfConfig(text: string): InferencePerfWorkload {
  const raw: unknown = parse(text);
  const isBare = typeof raw === 'object' && raw !== null && !('data' in raw) && !('load' in raw);
  const parsed = configSchema.safeParse(
    isBare ? { data: { type: 'shared_prefix', shared_prefix: raw } } : raw,
  );
  if (!parsed.success) {
    throw new Error(`invalid inference-perf shared_prefix config:\n${z.prettifyError(parsed.error)}`);
  }
  const sp = parsed.data.data.shared_prefix;
  const shape: SharedPrefixShape = {
    // inference-perf's defaults: 10 groups × 10 prompts.
    groups: sp.num_groups ?? sp.num_unique_system_prompts ?? 10,
    promptsPerGroup: sp.num_prompts_per_group ?? sp.num_users_per_system_prompt ?? 10,
    systemPromptLen: sp.system_prompt_len,
    questionLen: sp.question_len,
    outputLen: sp.output_len,
  };
  const load = parsed.data.load;
  return {
    shape,
    ...(load
      ? {
          load: {
            type: load.type,
            stages: load.stages.map((s) => ({ rate: s.rate, durationS: s.duration })),
          },
        }
      : {}),
    ...(sp.seed !== undefined ? { seed: sp.seed } : {}),
  };
}
