/** The engines' prefix hit rate of some requests, as vLLM counts it. */
import type { RequestRecord } from '../des/run-result.ts';

/** Σ cached / Σ prompt tokens of the successful records (vLLM's `prefix_cache_hits / queries`); NaN if none. */
export function engineHitRate(records: readonly RequestRecord[]): number {
  let cached = 0;
  let prompt = 0;
  for (const r of records) {
    if (r.error !== null) continue;
    cached += r.cachedTokens;
    prompt += r.promptTokens;
  }
  return prompt > 0 ? cached / prompt : Number.NaN;
}
