import { describe, expect, it } from 'vitest';
import type { ResponseOutcomeDetails } from '../../../src/scheduler/kvedge/kvedge-picker.ts';
import type { ResponseCompleteEvent, SchedulingRequest } from '../../../src/scheduler/types.ts';
import { endpoint, fleet, NOW } from '../fixtures.ts';
import { build, prompt, random } from './picker-harness.ts';

/**
 * First-token times (s after arrival) of prompts that reach an idle engine at the same instant:
 * first come first served, each step filled up to `budget` tokens (vLLM's chunked prefill), a
 * step costing `a + b·tokens`, a prompt's first token at the end of the step holding its last chunk.
 */
function chunkedFirstTokens(uncached: readonly number[], budget: number, a: number, b: number): number[] {
  const remaining = [...uncached];
  const firstTokens: number[] = [];
  let t = 0;
  let next = 0;
  while (next < remaining.length) {
    let used = 0;
    const finished: number[] = [];
    for (let i = next; i < remaining.length && used < budget; i++) {
      const chunk = Math.min(remaining[i]!, budget - used);
      remaining[i]! -= chunk;
      used += chunk;
      if (remaining[i] === 0) finished.push(i);
    }
    t += a + b * used;
    for (const i of finished) firstTokens[i] = t;
    next = finished.length > 0 ? finished.at(-1)! + 1 : next;
  }
  return firstTokens;
}

/** Runs one burst of `sizes`-token cold prompts through the picker on pod 'a' at `atMs`. */
function burst(
  setup: ReturnType<typeof build>,
  tags: readonly number[],
  sizes: readonly number[],
  atMs: number,
  engine: { a: number; b: number },
): void {
  const { scheduler } = setup;
  const requests = sizes.map((size, i) => prompt(tags[i]!, size));
  for (const req of requests) {
    const decision = scheduler.schedule(req, fleet([endpoint('a')], atMs), random());
    scheduler.recordDispatch(req, decision, atMs);
  }
  const offsets = chunkedFirstTokens(sizes, 8192, engine.a, engine.b);
  requests.forEach((req, i) =>
    scheduler.recordFirstToken({
      requestId: req.requestId,
      endpointId: 'a',
      nowMs: atMs + offsets[i]! * 1000,
    }),
  );
  const endMs = atMs + Math.max(...offsets) * 1000 + 1;
  for (const req of requests)
    complete(setup, req, endMs, { promptTokens: req.tokenIds!.length, cachedTokens: 0 });
}

function complete(
  { scheduler }: ReturnType<typeof build>,
  req: SchedulingRequest,
  nowMs: number,
  usage?: { promptTokens: number; cachedTokens: number },
  outcome: 'success' | 'error' = 'success',
): void {
  const event: ResponseCompleteEvent & ResponseOutcomeDetails = {
    request: req,
    decision: {} as never,
    endpointId: 'a',
    nowMs,
    outcome,
    ...usage,
  };
  scheduler.recordResponseComplete(event);
}

/**
 * One 6400-token prompt on an idle pod 'a', unknown to the index; its first token after
 * `firstTokenMs`, then completion with `usage`. Returns the fleet rates after the first token
 * (`held` = samples learned by then) and after completion.
 */
function single(o: {
  firstTokenMs: number;
  usage?: { promptTokens: number; cachedTokens: number };
  outcome?: 'success' | 'error';
  parameters?: Record<string, unknown>;
}) {
  const setup = build(o.parameters);
  const req = prompt(3);
  const decision = setup.scheduler.schedule(req, fleet([endpoint('a')]), random());
  setup.scheduler.recordDispatch(req, decision, NOW);
  setup.scheduler.recordFirstToken({
    requestId: req.requestId,
    endpointId: 'a',
    nowMs: NOW + o.firstTokenMs,
  });
  const held = setup.picker.learner.fleetRates().observations;
  complete(setup, req, NOW + 5000, o.usage, o.outcome);
  return { held, rates: setup.picker.learner.fleetRates() };
}

describe('prefill samples (what the rate learner learns from)', () => {
  it('learns an engine whose steps are shared by prompts that arrive together', () => {
    // Truth 40 µs/token and 12 ms/step against the picker's prior of 50 µs and 10 ms. Two cold
    // prompts arriving together share a step: the first one's TTFT carries the second's first
    // chunk, and the second's prefill after the first's TTFT lacks it. Learning from those pairs
    // drove the fit along the tokens-versus-steps split (3 µs/token, 190 ms/step in the DES).
    const engine = { a: 0.012, b: 4e-5 };
    const setup = build();
    let tag = 1;
    for (let k = 0; k < 60; k++) {
      const atMs = NOW + k * 10_000;
      const first = 2000 + ((k * 1237) % 4400);
      const second = 2000 + ((k * 2741) % 4400);
      // Every third burst is a lone prompt: the only prefills that had the engine to themselves.
      const sizes = k % 3 === 0 ? [first] : [first, second];
      burst(setup, [tag++, tag++], sizes, atMs, engine);
    }
    const rates = setup.picker.learner.rates('a');
    expect(rates.observations).toBeGreaterThanOrEqual(20);
    const predicted = (tokens: number) => rates.secondsPerToken * tokens + rates.stepSeconds * 1.5;
    // The emulated engine has no decode step in flight: a lone prompt takes one step, a + b·n. The
    // picker models an idle pod as 1½ steps, so its step time comes out at a / 1.5; the sums agree.
    const truth = (tokens: number) => engine.b * tokens + engine.a;
    for (const tokens of [64, 2000, 6000]) {
      expect(Math.abs(predicted(tokens) / truth(tokens) - 1), `${tokens} tokens`).toBeLessThan(0.1);
    }
  });

  it('holds a sample the engine beat by far until the usage says what it had cached', () => {
    // The index knows nothing of the prompt (6400 tokens predicted uncached: 0.335 s at the prior),
    // but the engine held all but the last block and answered in 20 ms.
    const confirmed = single({ firstTokenMs: 20, usage: { promptTokens: 6400, cachedTokens: 6336 } });
    expect(confirmed.held).toBe(0);
    expect(confirmed.rates.observations).toBe(1);
    // Recosted as 64 uncached tokens, 20 ms is what the prior predicts (18 ms): nothing to correct.
    expect(Math.abs(confirmed.rates.secondsPerToken / 5e-5 - 1)).toBeLessThan(0.05);

    // Without usage a too-fast sample is dropped: clipping it against the current rate would ratchet
    // the rate down sample after sample.
    expect(single({ firstTokenMs: 20 }).rates.observations).toBe(0);
    expect(
      single({ firstTokenMs: 20, usage: { promptTokens: 6400, cachedTokens: 6336 }, outcome: 'error' }).rates
        .observations,
    ).toBe(0);
  });

  it('learns a too-slow sample without usage clipped to the band, at a quarter of the weight', () => {
    // 2 s for a predicted 0.335 s: beyond 3× + 50 ms (1.055 s).
    const unconfirmed = single({ firstTokenMs: 2000 });
    expect(unconfirmed.held).toBe(0);
    expect(unconfirmed.rates.observations).toBe(1);
    // The same sample confirmed by usage (all 6400 tokens really were prefilled) is learned capped at
    // 4× + 50 ms (1.39 s) instead. The prior weighs little against one 6,400-token sample, so each
    // fit lands near its own target.
    const confirmed = single({ firstTokenMs: 2000, usage: { promptTokens: 6400, cachedTokens: 0 } });
    const predicted = (r: { secondsPerToken: number; stepSeconds: number }) =>
      r.secondsPerToken * 6400 + r.stepSeconds * 1.5;
    expect(predicted(unconfirmed.rates)).toBeGreaterThan(0.8);
    expect(predicted(unconfirmed.rates)).toBeLessThanOrEqual(1.055 + 1e-9);
    expect(predicted(confirmed.rates)).toBeGreaterThan(1.2);
  });

  it('learns nothing with learnRates: false', () => {
    expect(single({ firstTokenMs: 300, parameters: { learnRates: false } }).rates.observations).toBe(0);
    expect(single({ firstTokenMs: 300 }).rates.observations).toBe(1);
  });

  it('learns a plausible first token at once, before the response ends', () => {
    expect(single({ firstTokenMs: 300 }).held).toBe(1);
  });
});
