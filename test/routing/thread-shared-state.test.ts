import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ThreadSharedState } from '../../src/routing/thread-shared-state.ts';

const LEARNER = {
  prior: { secondsPerToken: 1e-4, stepSeconds: 0.01 },
  forgetting: 0.99,
  minObservations: 3,
  heterogeneityThreshold: 0.25,
};

const LEDGER = { errorWindowMs: 10_000, rateWindowMs: 10_000, graceMs: 1_000 };

/** A dispatch at t = 1000 ms of a fully uncached prompt. */
function dispatch(requestId: string, endpointId: string, tokens: number) {
  return {
    requestId,
    endpointId,
    dispatchMs: 1000,
    promptTokens: tokens,
    uncachedTokens: tokens,
    waitMs: 0,
    steps: 1,
    interferenceSeconds: 0,
  };
}

describe('ThreadSharedState: kvedge-picker stores', () => {
  const states: ThreadSharedState[] = [];
  afterEach(() => {
    for (const s of states.splice(0)) s.close();
  });
  // Two "threads": BroadcastChannel delivers to every other channel of the same name, in this thread too.
  function pair() {
    const channel = `test-shared-${process.pid}-${Math.random()}`;
    const a = new ThreadSharedState({ channel });
    const b = new ThreadSharedState({ channel });
    states.push(a, b);
    return [a, b] as const;
  }

  it("learns prefill rates from every thread's observations", async () => {
    const [a, b] = pair();
    const ratesA = a.prefillRates('kvedge-picker', LEARNER);
    const ratesB = b.prefillRates('kvedge-picker', LEARNER);
    for (let i = 0; i < 20; i++) {
      const tokens = 500 + i * 300;
      ratesA.observe('pod', {
        uncachedTokens: tokens,
        steps: 1,
        serviceSeconds: 3e-4 * tokens + 0.01,
        weight: 1,
      });
    }
    await sleep(20);
    expect(ratesB.fleetRates().observations).toBe(20);
    expect(ratesB.rates('pod').secondsPerToken).toBeCloseTo(ratesA.rates('pod').secondsPerToken, 9);
    expect(ratesB.rates('pod').secondsPerToken).toBeGreaterThan(2e-4);
  });

  it("sums every thread's writes into each pod's KV", async () => {
    const [a, b] = pair();
    const turnoverA = a.cacheTurnover('kvedge-picker', 60_000);
    const turnoverB = b.cacheTurnover('kvedge-picker', 60_000);
    turnoverA.record('pod', 1000, 0);
    turnoverB.record('pod', 500, 0);
    await sleep(20);
    expect(turnoverA.tokensWritten('pod', 0)).toBe(1500);
    expect(turnoverB.tokensWritten('pod', 0)).toBe(1500);
  });

  it("mirrors every thread's dispatches, first tokens and completions into each ledger", async () => {
    const [a, b] = pair();
    const ledgerA = a.podLedger('kvedge-picker', LEDGER);
    const ledgerB = b.podLedger('kvedge-picker', LEDGER);
    ledgerA.dispatch(dispatch('r1', 'pod', 6000), 1500);
    await sleep(20);
    // B sees A's request queued on the pod: its backlog and its pending prefill.
    expect(ledgerB.book('pod')?.busyUntilMs).toBe(1500);
    expect(ledgerB.book('pod')?.outstanding).toBe(1);
    expect(ledgerB.book('pod')?.pendingTokens).toBe(6000);
    // A's first token came 200 ms late: B's clock for the pod moves with it, and B does not learn from it.
    expect(ledgerA.firstToken('r1', 1700)?.ttftMs).toBe(700);
    await sleep(20);
    expect(ledgerB.book('pod')?.pending).toHaveLength(0);
    expect(ledgerB.book('pod')?.busyUntilMs).toBe(1700);
    ledgerA.complete('r1', 5000, true, 'pod');
    await sleep(20);
    expect(ledgerB.book('pod')?.outstanding).toBe(0);
    expect(ledgerB.book('pod')?.errorTimesMs).toEqual([5000]);
  });

  it('keeps its stores usable after close (a Redis mirror may still apply a peer mutation)', () => {
    const [a] = pair();
    const turnover = a.cacheTurnover('kvedge-picker', 60_000);
    a.close();
    expect(() => turnover.record('pod', 10, 0)).not.toThrow();
    expect(turnover.tokensWritten('pod', 0)).toBe(10);
  });

  it("keeps a thread's own request apart from another thread's request with the same client-chosen id", async () => {
    const [a, b] = pair();
    const ledgerA = a.podLedger('kvedge-picker', LEDGER);
    const ledgerB = b.podLedger('kvedge-picker', LEDGER);
    const fields = (endpointId: string) => dispatch('same-id', endpointId, 100);
    ledgerA.dispatch(fields('pod-a'), 1100);
    ledgerB.dispatch(fields('pod-b'), 1100);
    await sleep(20);
    expect(ledgerB.record('same-id')?.endpointId).toBe('pod-b');
    expect(ledgerB.book('pod-a')?.outstanding).toBe(1);
    ledgerA.complete('same-id', 2000, false, 'pod-a');
    await sleep(20);
    expect(ledgerB.book('pod-a')?.outstanding).toBe(0);
    expect(ledgerB.record('same-id')?.endpointId).toBe('pod-b');
  });
});
