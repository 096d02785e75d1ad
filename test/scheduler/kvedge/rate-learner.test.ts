import { describe, expect, it } from 'vitest';
import { RateLearner, DirectionalRls } from '../../../src/scheduler/kvedge/rate-learner.ts';

/** |actual / expected − 1| ≤ tolerance (the fit is a ridge estimate: the prior leaves a small bias). */
function expectRelative(actual: number, expected: number, tolerance = 0.01): void {
  expect(Math.abs(actual / expected - 1)).toBeLessThanOrEqual(tolerance);
}

const prior = { secondsPerToken: 5e-5, stepSeconds: 0.01 };

function learner(overrides: Partial<ConstructorParameters<typeof RateLearner>[0]> = {}): RateLearner {
  return new RateLearner({
    prior,
    forgetting: 1,
    minObservations: 4,
    heterogeneityThreshold: 0.25,
    ...overrides,
  });
}

/** Observations of a pod whose prefill costs `b` s/token and `a` s/step, over varied prompt sizes. */
function feed(target: RateLearner, id: string, b: number, a: number, count = 40): void {
  for (let i = 0; i < count; i++) {
    const tokens = 200 + ((i * 733) % 6000);
    const steps = 1.5 + (i % 3);
    target.observe(id, { uncachedTokens: tokens, steps, serviceSeconds: b * tokens + a * steps, weight: 1 });
  }
}

describe('DirectionalRls', () => {
  it('recovers the two parameters of noiseless data', () => {
    const fit = new DirectionalRls(0.01, 0.05, 1);
    for (let i = 0; i < 200; i++) {
      const x0 = 0.2 + (i % 7);
      const x1 = 1 + (i % 4) / 2;
      fit.update(x0, x1, 0.036 * x0 + 0.0065 * x1, 1);
    }
    expectRelative(fit.theta0, 0.036);
    expectRelative(fit.theta1, 0.0065, 0.02);
    expect(fit.observations).toBe(200);
  });

  it('keeps what it learned along a direction a long run of alike samples does not excite', () => {
    // Prefills of one size (a burst of siblings, W1's 1,248-token questions) carry no news about
    // how cost splits between tokens and steps. With plain exponential forgetting the uncertainty
    // along that split grows without bound and ±4 ms of noise swung the 6,000-token prediction
    // by up to 100% (scratch comparison against the previous estimator).
    const truth = (x0: number, x1: number) => 0.036 * x0 + 0.0065 * x1;
    const fit = new DirectionalRls(0.072, 0.0145, 0.98);
    for (let i = 0; i < 100; i++) {
      const x0 = 0.2 + ((i * 733) % 6000) / 1000;
      const x1 = 1.5 + (i % 3);
      fit.update(x0, x1, truth(x0, x1), 1);
    }
    let worst = 0;
    for (let i = 0; i < 3000; i++) {
      const x0 = 1.25 + 0.01 * ((i * 7) % 5);
      fit.update(x0, 1.5, truth(x0, 1.5) + 0.004 * Math.sin(i * 1.3), 1);
      const predicted = fit.theta0 * 6 + fit.theta1 * 1.5;
      worst = Math.max(worst, Math.abs(predicted / truth(6, 1.5) - 1));
    }
    expect(worst).toBeLessThan(0.05);
    expectRelative(fit.theta0, 0.036, 0.05);
  });

  it('follows a pod whose rate changes, within a few times 1/(1 − λ) samples', () => {
    const fit = new DirectionalRls(0.036, 0.0065, 0.98);
    const feed = (b: number, a: number, from: number, count: number) => {
      for (let i = from; i < from + count; i++) {
        const x0 = 0.2 + ((i * 733) % 6000) / 1000;
        fit.update(x0, 1.5, b * x0 + a * 1.5, 1);
      }
    };
    feed(0.036, 0.0065, 0, 200);
    // The pod becomes 2× slower (a noisy neighbour, a smaller GPU behind the same address).
    feed(0.072, 0.013, 200, 150);
    expectRelative(fit.theta0 * 6 + fit.theta1 * 1.5, 0.072 * 6 + 0.013 * 1.5, 0.05);
  });

  it('ignores observations of zero weight', () => {
    const fit = new DirectionalRls(0.05, 0.01, 1);
    fit.update(1, 1, 100, 0);
    expect([fit.theta0, fit.theta1, fit.observations]).toEqual([0.05, 0.01, 0]);
  });
});

describe('RateLearner', () => {
  it('starts from the prior', () => {
    expect(learner().rates('a')).toEqual({ ...prior, observations: 0 });
  });

  it('learns a uniform fleet and gives every pod the fleet-wide rates', () => {
    const l = learner();
    for (const id of ['a', 'b', 'c']) feed(l, id, 7.2e-5, 0.0145);
    const fleet = l.fleetRates();
    expectRelative(fleet.secondsPerToken, 7.2e-5);
    expectRelative(fleet.stepSeconds, 0.0145, 0.02);
    // Same rates for all: learning noise must not make one pod look faster than the others.
    expect(l.rates('a')).toEqual(fleet);
    expect(l.rates('c')).toEqual(fleet);
  });

  it('gives a pod its own rates when they differ from the fleet by more than the threshold', () => {
    const l = learner();
    for (const id of ['f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7']) feed(l, id, 4e-5, 0.01);
    feed(l, 'slow', 8e-5, 0.02);
    const slow = l.rates('slow');
    expectRelative(slow.secondsPerToken, 8e-5);
    expectRelative(slow.stepSeconds, 0.02, 0.02);
    // The fleet fit blends the eight pods (7 × 40 fast and 40 slow observations); the fast pods are
    // within 25% of it and keep using it.
    expect(l.rates('f1')).toEqual(l.fleetRates());
    expect(l.fleetRates().secondsPerToken).toBeGreaterThan(4e-5);
    expect(l.fleetRates().secondsPerToken).toBeLessThan(4e-5 * 1.25);
  });

  it('uses the fleet rates for a pod with fewer than minObservations of its own', () => {
    const l = learner();
    feed(l, 'a', 4e-5, 0.01);
    feed(l, 'new', 2e-4, 0.05, 3);
    expect(l.rates('new')).toEqual(l.fleetRates());
    feed(l, 'new', 2e-4, 0.05, 1);
    expect(l.rates('new').secondsPerToken).toBeGreaterThan(1.25 * l.fleetRates().secondsPerToken);
  });

  it('keeps learned rates within 50× of the prior', () => {
    const l = learner();
    feed(l, 'a', 1, 0.01); // a nonsensical 1 s per token
    expect(l.rates('a').secondsPerToken).toBeLessThanOrEqual(prior.secondsPerToken * 50);
  });

  it('forgets pods that left the fleet', () => {
    const l = learner();
    for (const id of ['f1', 'f2', 'f3']) feed(l, id, 4e-5, 0.01);
    feed(l, 'slow', 2e-4, 0.05);
    l.retain(new Set(['f1', 'f2', 'f3']));
    expect(l.rates('slow')).toEqual(l.fleetRates());
  });
});
