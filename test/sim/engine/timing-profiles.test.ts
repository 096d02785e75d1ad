import { describe, expect, it } from 'vitest';
import { stepSeconds } from '../../../src/sim/engine/step-time.ts';
import {
  ENGINE_PROFILES,
  engineConfigFor,
  getTimingProfile,
  listTimingProfiles,
  PROFILE_NAMES,
} from '../../../src/sim/engine/timing-profiles.ts';

describe('timing profiles', () => {
  it('offers the calibrated H100 profiles and the test profile', () => {
    expect(PROFILE_NAMES).toEqual(
      expect.arrayContaining(['llama-3.1-8b-h100', 'qwen2.5-32b-h100-tp2', 'tiny-test']),
    );
    expect(listTimingProfiles()).toEqual(PROFILE_NAMES);
    for (const name of PROFILE_NAMES) expect(getTimingProfile(name).name).toBe(name);
    expect(() => getTimingProfile('gpt-5')).toThrow(/unknown engine profile/);
  });

  it('derives the KV pool from the capacity in tokens and the block size', () => {
    expect(getTimingProfile('llama-3.1-8b-h100').kvCacheTokens).toBe(440_000);
    expect(engineConfigFor('llama-3.1-8b-h100').numGpuBlocks).toBe(27_500);
    // llm-d's W1 setting: block 64 on Qwen-32B TP2 gives 4,802 blocks per pod.
    expect(engineConfigFor('qwen2.5-32b-h100-tp2', { blockSize: 64 }).numGpuBlocks).toBe(4_802);
    expect(engineConfigFor('tiny-test', { numGpuBlocks: 7 }).numGpuBlocks).toBe(7);
    const config = engineConfigFor('llama-3.1-8b-h100');
    expect(config.maxModelLen).toBeLessThanOrEqual(config.numGpuBlocks * config.blockSize);
  });

  it('keeps the 8B profile in the published H100 ranges', () => {
    const t = ENGINE_PROFILES['llama-3.1-8b-h100'].timing;
    // Single-stream decode: ~6-8 ms per token (~150 tok/s).
    const single = stepSeconds(t, { prefillTokens: 0, decodeSeqs: 1, contextTokens: 1000 });
    expect(single).toBeGreaterThan(0.006);
    expect(single).toBeLessThan(0.008);
    // A cold 6,000-token prefill alone: a few hundred ms (compute-bound at ~50% MFU).
    const cold = stepSeconds(t, { prefillTokens: 6000, decodeSeqs: 0, contextTokens: 6000 });
    expect(cold).toBeGreaterThan(0.15);
    expect(cold).toBeLessThan(0.4);
  });

  it('puts the 32B TP2 profile near llm-d W1 TTFT for a prefix hit', () => {
    const t = ENGINE_PROFILES['qwen2.5-32b-h100-tp2'].timing;
    // 1,200 uncached question tokens in a step with ~100 decodes of ~7.5k context.
    const step = stepSeconds(t, { prefillTokens: 1200, decodeSeqs: 100, contextTokens: 100 * 7500 + 7200 });
    expect(step).toBeGreaterThan(0.1);
    expect(step).toBeLessThan(0.2);
  });
});
