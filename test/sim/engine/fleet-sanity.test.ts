import { describe, expect, it } from 'vitest';
import { runFleet } from './fleet-workload.ts';

// A scaled-down run of the perf workload (perf-des.ts): 8 engines on one clock with 6,000-token
// prompts sharing group prefixes. It checks behaviour, not speed.
describe('fleet workload on one virtual clock', () => {
  it('serves every request, reuses group prefixes and leaves no block in use', () => {
    const summary = runFleet({
      engines: 8,
      requestsPerEngine: 40,
      systemTokens: 4800,
      questionTokens: 1200,
      outputTokens: 50,
      groups: 10,
      blockSize: 64,
      rate: 20,
      profile: 'qwen2.5-32b-h100-tp2',
      seed: 7,
    });
    expect(summary.finished).toBe(320);
    // Each group's 4,800-token prefix (75 blocks) is hit by later requests on the same engine.
    expect(summary.hitRate).toBeGreaterThan(0.5);
    expect(summary.hitRate).toBeLessThan(0.8);
    // 6,000 prompt + 49 fed-back tokens = 94 full blocks per request, each hashed once.
    expect(summary.hashCalls).toBe(320 * 94);
    for (const engine of summary.engines) {
      expect(engine.internals().usedBlocks).toBe(0);
      expect(engine.stats()).toMatchObject({ running: 0, waiting: 0 });
    }
  });
});
