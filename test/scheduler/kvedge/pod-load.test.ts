import { describe, expect, it } from 'vitest';
import { baseLoad, type LoadOptions } from '../../../src/scheduler/kvedge/pod-load.ts';
import { PodLedger } from '../../../src/scheduler/kvedge/pod-ledger.ts';
import { endpoint, NOW } from '../fixtures.ts';

const rates = { secondsPerToken: 1e-4, stepSeconds: 0.01, observations: 10 };

function options(nowMs: number, grace = 1000): LoadOptions {
  return { nowMs, presumedPrefillGraceMs: grace, stepTokenBudget: 1000, arrivalRateWindowMs: 10_000 };
}

function dispatch(ledger: PodLedger, id: string, atMs: number, predictedMs: number, uncachedTokens = 200) {
  ledger.dispatch(
    {
      requestId: id,
      endpointId: 'a',
      dispatchMs: atMs,
      promptTokens: 2000,
      uncachedTokens,
      waitMs: 0,
      steps: 1.5,
      interferenceSeconds: 0,
    },
    predictedMs,
  );
}

describe('baseLoad', () => {
  it('is empty for a pod the router sent nothing', () => {
    const load = baseLoad(endpoint('a'), undefined, rates, options(NOW));
    expect(load).toMatchObject({ backlogSeconds: 0, unaccountedWaiting: 0, decodeSeqs: 0, outstanding: 0 });
    expect(load.kvUsage).toBe(0);
    expect(load.kvCapacityTokens).toBe(16 * 10_000);
  });

  it("takes the backlog from the ledger's clock", () => {
    const ledger = new PodLedger(1000, 10_000, 1000);
    dispatch(ledger, 'r1', NOW, NOW + 300);
    const load = baseLoad(endpoint('a', { inflightRequests: 1 }), ledger.book('a'), rates, options(NOW));
    expect(load.backlogSeconds).toBeCloseTo(0.3, 12);
    expect(load.pendingPrefills).toBe(1);
  });

  it('caps the backlog at one step after a scrape that saw nothing waiting after the last dispatch', () => {
    const ledger = new PodLedger(1000, 10_000, 1000);
    dispatch(ledger, 'r1', NOW, NOW + 300);
    const scraped = endpoint('a', {
      inflightRequests: 1,
      metrics: { updatedAtMs: NOW + 10, waitingQueueSize: 0 },
    });
    // one step = 1e-4 · 1000 + 0.01 = 0.11 s after the scrape: 10 + 110 − 20 = 100 ms from now
    const load = baseLoad(scraped, ledger.book('a'), rates, options(NOW + 20));
    expect(load.backlogSeconds).toBeCloseTo(0.1, 12);
  });

  it('never goes below the prefill time of work certainly not done', () => {
    const ledger = new PodLedger(1000, 10_000, 1000);
    dispatch(ledger, 'r0', NOW, NOW + 10);
    ledger.firstToken('r0', NOW + 10); // first-token events arrive: nothing is presumed decoding
    dispatch(ledger, 'r1', NOW, NOW + 100, 3000);
    // 400 ms later r1 still has no first token (say the engine waits for KV memory).
    const load = baseLoad(
      endpoint('a', { inflightRequests: 2 }),
      ledger.book('a'),
      rates,
      options(NOW + 500, ledger.presumeGraceMs),
    );
    // 1e-4 · 3000 + 0.01 · 3000 / 1000
    expect(load.backlogSeconds).toBeCloseTo(0.33, 12);
  });

  it("counts waiting requests beyond the ledger's only as far as other replicas sent some", () => {
    const ledger = new PodLedger(1000, 10_000, 1000);
    dispatch(ledger, 'r1', NOW, NOW + 100);
    // 5 in flight (4 from elsewhere), 3 waiting: 1 is ours, 2 are unaccounted.
    const busy = endpoint('a', {
      inflightRequests: 5,
      inflightTokens: 15_000,
      metrics: { waitingQueueSize: 3 },
    });
    const load = baseLoad(busy, ledger.book('a'), rates, options(NOW));
    expect(load.unaccountedWaiting).toBe(2);
    expect(load.outstanding).toBe(5);
    expect(load.decodeSeqs).toBe(2);
    // 3000 tokens per request in flight, 2000 of them prompt: context = 2 · (2000 + 1000 / 2)
    expect(load.outputTokensPerRequest).toBe(1000);
    expect(load.contextTokens).toBe(5000);
    // A stale scrape of our own waiting request is not counted again.
    const own = endpoint('a', { inflightRequests: 1, metrics: { waitingQueueSize: 1 } });
    expect(baseLoad(own, ledger.book('a'), rates, options(NOW)).unaccountedWaiting).toBe(0);
  });

  it('adds what the router sent since the last scrape to the scraped KV usage', () => {
    const ledger = new PodLedger(1000, 10_000, 1000);
    dispatch(ledger, 'old', NOW - 100, NOW + 50, 8000);
    dispatch(ledger, 'new', NOW + 5, NOW + 60, 16_000);
    const pod = endpoint('a', {
      inflightRequests: 2,
      metrics: { kvCacheUsagePercent: 0.5, updatedAtMs: NOW },
    });
    // capacity 16 · 10000 = 160000 tokens; only 'new' was sent after the scrape
    expect(baseLoad(pod, ledger.book('a'), rates, options(NOW + 10)).kvUsage).toBeCloseTo(0.6, 12);
  });
});
