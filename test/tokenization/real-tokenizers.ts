/**
 * The two real tokenizers the tests run against, loaded the way production loads them.
 */
import { loadModelTokenizer, type BuiltinModelName } from '../../src/tokenization/model-registry.ts';
import type { ModelTokenizer } from '../../src/tokenization/types.ts';

export const REAL_MODELS: readonly BuiltinModelName[] = ['qwen3', 'llama3_1'];

/** Fixed time for `strftime_now`, so rendered prompts are reproducible. */
export const FIXED_NOW = new Date(2026, 2, 7, 9, 5, 0);

export function loadRealModel(name: BuiltinModelName, textGenerator = false): Promise<ModelTokenizer> {
  return loadModelTokenizer(name, { textGenerator, clock: () => FIXED_NOW });
}
