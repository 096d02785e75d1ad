import { describe, expect, it } from 'vitest';
import {
  cachedTokensOf,
  type CostConstants,
  kvPotential,
  type PodLoad,
  predictTtft,
} from '../../../src/scheduler/kvedge/ttft-model.ts';

const constants: CostConstants = {
  priorSecondsPerToken: 5e-5,
  decodeSecondsPerSequence: 1e-4,
  decodeSecondsPerContextToken: 1e-7,
  stepTokenBudget: 1000,
  recomputeWeight: 0.5,
  externalityWeight: 1,
  decodeWeight: 0.1,
  kvPressureSeconds: 1,
  kvPressureThreshold: 0.5,
  turnoverWeight: 2,
  fleetSecondsPerToken: 8e-5,
  typicalUncachedTokens: 500,
};

// A pod twice as slow as the prior (b = 1e-4 s/token, so σ = 2), with a step of 10 ms.
const rates = { secondsPerToken: 1e-4, stepSeconds: 0.01, observations: 10 };

const busy: PodLoad = {
  backlogSeconds: 0.2,
  unaccountedWaiting: 1,
  decodeSeqs: 10,
  contextTokens: 20_000,
  outstanding: 12,
  arrivalRate: 2,
  kvUsage: 0.6,
  kvCapacityTokens: 100_000,
};

const request = { uncachedTokens: 1500, promptTokens: 2000, outputTokens: 100 };

describe('predictTtft', () => {
  it('adds queue, prefill and steps, all in seconds (hand-computed)', () => {
    const p = predictTtft(request, busy, rates, constants, 0.5);
    // I = σ·(c·decodes + d·context) = 2·(1e-4·10 + 1e-7·20000) = 0.006; o = 0.01 + 0.006
    expect(p.interferenceSeconds).toBeCloseTo(0.006, 12);
    expect(p.stepSeconds).toBeCloseTo(0.016, 12);
    // Q = 0.2 + 1·(1e-4·500 + 0.016) = 0.266
    expect(p.queueSeconds).toBeCloseTo(0.266, 12);
    // queued: its 1500 tokens share the queue's steps, 1500 / 1000 = 1.5 steps
    expect(p.steps).toBeCloseTo(1.5, 12);
    expect(p.prefillSeconds).toBeCloseTo(0.15, 12);
    // T = 0.266 + 0.15 + 1.5·0.016 = 0.44
    expect(p.ttftSeconds).toBeCloseTo(0.44, 12);
    // E = 0.5·0.15 + 1·2·0.15·(0.266 + 0.15) = 0.075 + 0.1248
    expect(p.externalitySeconds).toBeCloseTo(0.1998, 12);
    // δ = 2·(1e-4 + 1e-7·(2000 + 50)) = 6.1e-4; decode step = 0.016 + (12 − 10)·δ = 0.01722
    // D = 100·(0.01722 + 12·δ) = 2.454
    expect(p.decodeSeconds).toBeCloseTo(2.454, 12);
    // K = Φ(0.6 + 1600/100000) − Φ(0.6) = 0.116/0.384 − 0.1/0.4
    expect(p.kvPenaltySeconds).toBeCloseTo(0.116 / 0.384 - 0.25, 12);
    // R = κ·b̄·U·excess = 2·8e-5·1500·0.5 = 0.12: the fleet's rate, not the pod's 1e-4
    expect(p.turnoverSeconds).toBeCloseTo(0.12, 12);
    expect(p.costSeconds).toBeCloseTo(0.44 + 0.1998 + 0.1 * 2.454 + (0.116 / 0.384 - 0.25) + 0.12, 12);
  });

  it('charges no turnover on a pod at or below the fleet pace, and less for a cache hit', () => {
    expect(predictTtft(request, busy, rates, constants, 0).turnoverSeconds).toBe(0);
    const hit = predictTtft({ ...request, uncachedTokens: 100 }, busy, rates, constants, 0.5);
    expect(hit.turnoverSeconds).toBeCloseTo(2 * 8e-5 * 100 * 0.5, 12);
  });

  it('on an idle pod pays whole steps plus half the step in flight', () => {
    const idle: PodLoad = { ...busy, backlogSeconds: 0, unaccountedWaiting: 0 };
    const p = predictTtft(request, idle, rates, constants);
    expect(p.queueSeconds).toBe(0);
    // ⌈1500 / 1000⌉ + ½ = 2.5 steps of 0.016 s, plus 0.15 s of prefill
    expect(p.steps).toBe(2.5);
    expect(p.ttftSeconds).toBeCloseTo(0.15 + 2.5 * 0.016, 12);
    // nothing queued: the externality is μ·S + w·λ·S² = 0.075 + 2·0.0225
    expect(p.externalitySeconds).toBeCloseTo(0.075 + 0.045, 12);
  });

  it('charges nothing for KV when the pod does not report its capacity', () => {
    const p = predictTtft(request, { ...busy, kvUsage: null, kvCapacityTokens: null }, rates, constants);
    expect(p.kvPenaltySeconds).toBe(0);
  });

  it('makes a cache hit cheaper than a recompute on an otherwise equal pod', () => {
    const idle: PodLoad = { ...busy, backlogSeconds: 0, unaccountedWaiting: 0 };
    const hit = predictTtft({ ...request, uncachedTokens: 100 }, idle, rates, constants);
    const miss = predictTtft({ ...request, uncachedTokens: 2000 }, idle, rates, constants);
    expect(hit.costSeconds).toBeLessThan(miss.costSeconds);
  });
});

describe('kvPotential', () => {
  it('is zero up to the threshold, then scale·(k − k₀)/(1 − k)', () => {
    expect(kvPotential(0.4, 1, 0.5)).toBe(0);
    expect(kvPotential(0.5, 1, 0.5)).toBe(0);
    expect(kvPotential(0.9, 2, 0.5)).toBeCloseTo((2 * 0.4) / 0.1, 12);
  });

  it('stays finite at and past a full cache (1 − k floored at 0.01)', () => {
    expect(kvPotential(0.995, 1, 0)).toBeCloseTo(0.995 / 0.01, 9);
    expect(kvPotential(1.2, 1, 0)).toBeCloseTo(1.2 / 0.01, 9);
  });
});

describe('cachedTokensOf', () => {
  it('counts matched blocks in tokens', () => {
    expect(cachedTokensOf(10, 64, 1000)).toBe(640);
    expect(cachedTokensOf(3.5, 16, 1000)).toBe(56); // tier-weighted match
  });

  it('never counts the last prompt token as cached (vLLM recomputes the last block)', () => {
    // 704 tokens = 11 full blocks of 64, all matched: the last block is recomputed.
    expect(cachedTokensOf(11, 64, 704)).toBe(640);
    expect(cachedTokensOf(11, 64, 705)).toBe(704);
  });

  it('is 0 without a match, a block size or a prompt', () => {
    expect(cachedTokensOf(0, 64, 1000)).toBe(0);
    expect(cachedTokensOf(5, 0, 1000)).toBe(0);
    expect(cachedTokensOf(5, 64, 0)).toBe(0);
  });
});
