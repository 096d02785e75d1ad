import { describe, expect, it } from 'vitest';
import { loadNamedConfig } from '../../../src/scheduler/config/loader.ts';
import type { CandidateCost, ResponseOutcomeDetails } from '../../../src/scheduler/kvedge/kvedge-picker.ts';
import type { ResponseCompleteEvent } from '../../../src/scheduler/types.ts';
import { endpoint, fleet, NOW, request, text } from '../fixtures.ts';
import { build, occupy, prompt, random } from './picker-harness.ts';

describe('kvedge-picker', () => {
  it('is the named config `kvedge`: precise then approximate prefix producers, one picker', () => {
    const loaded = loadNamedConfig('kvedge');
    expect(loaded.scheduler.producers.map((p) => p.type)).toEqual([
      'precise-prefix-cache-producer',
      'approx-prefix-cache-producer',
    ]);
    const profile = loaded.scheduler.profiles.get('default')!;
    expect(profile.filters.map((f) => f.type)).toEqual(['decode-filter']);
    expect(profile.scorers).toEqual([]);
    expect(profile.picker.type).toBe('kvedge-picker');
    expect(loaded.warnings).toEqual([]);
  });

  it('routes to the pod holding the prompt when nobody is busy', () => {
    const { scheduler, index } = build();
    const req = prompt(1);
    index.hold(req.blockKeys!, 'b', 90);
    const decision = scheduler.schedule(req, fleet([endpoint('a'), endpoint('b'), endpoint('c')]), random());
    expect(decision.endpointId).toBe('b');
    expect(decision.trace.notes.at(-1)!.message).toMatch(/^→ b: TTFT/);
  });

  it("replicates the prefix once the holder's queue costs more than a recompute (hand-computed)", () => {
    // Prior rates: 5e-5 s/token, 10 ms/step; b holds 6336 of the 6400 tokens (the last block is
    // always recomputed), so U = 64 on b and 6400 elsewhere.
    // Elsewhere (idle, λ = 0): T = 6400·5e-5 + (1 + ½)·0.01 = 0.335, E = 0.25·0.32 = 0.08 → 0.415;
    // the near-best window reaches 5% above it: 0.43575.
    // On b, queued Q: T = Q + 64·5e-5 + (64/8192)·0.01, E = 0.25·0.0032 + λ·0.0032·(Q + 0.0032),
    // λ = 1 / (10·(1 − e^−0.1)) for b's one dispatch: cost = 1.0033627·Q + 0.0040889, which
    // leaves the window at Q = 0.43021 s.
    const eps = [endpoint('a'), endpoint('b'), endpoint('c')];
    for (const [queueMs, holderKept] of [
      [425, true],
      [435, false],
    ] as const) {
      const { scheduler, index, picker } = build();
      const req = prompt(2);
      index.hold(req.blockKeys!, 'b', 100);
      occupy(picker, 'b', queueMs);
      const decision = scheduler.schedule(req, fleet(eps), random());
      expect(decision.endpointId === 'b', `queue ${queueMs} ms`).toBe(holderKept);
    }
  });

  it('sends a cold request where it finishes first', () => {
    const { scheduler, picker } = build();
    occupy(picker, 'a', 200);
    // c runs 20 decodes: every step there is slower.
    const eps = [
      endpoint('a'),
      endpoint('b'),
      endpoint('c', { inflightRequests: 20, inflightTokens: 40_000 }),
    ];
    expect(scheduler.schedule(prompt(3), fleet(eps), random()).endpointId).toBe('b');
  });

  it("places new prefixes away from a pod whose cache turns over faster than the fleet's", () => {
    const eps = [endpoint('a'), endpoint('b'), endpoint('c'), endpoint('d')];
    const setup = (turnoverWeight: number) => {
      const built = build({ turnoverWeight });
      // a is the quickest place for a cold prompt: the others have a little queue...
      for (const id of ['b', 'c', 'd']) occupy(built.picker, id, 20);
      // ...but a full cache (10,000 blocks of 16) was just written into it.
      built.picker.turnover.record('a', 160_000, NOW);
      return built;
    };
    expect(setup(0).scheduler.schedule(prompt(20), fleet(eps), random()).endpointId).toBe('a');
    const { scheduler, picker, index } = setup(20);
    const cold = scheduler.schedule(prompt(21), fleet(eps), random());
    expect(cold.endpointId).not.toBe('a');
    // excess = 160k/160k − 160k/640k − 0.01 dead zone = 0.74; R = 20 · 5e-5 · 6400 · 0.74
    const { costs } = cold.state.pluginState.get(picker.name) as { costs: CandidateCost[] };
    expect(costs.find((c) => c.endpointId === 'a')?.prediction.turnoverSeconds).toBeCloseTo(
      20 * 5e-5 * 6400 * 0.74,
      9,
    );
    // A prompt a already holds still goes there: a hit writes one block, so it pays almost nothing.
    index.hold(prompt(22).blockKeys as bigint[], 'a', 100);
    expect(scheduler.schedule(prompt(22), fleet(eps), random()).endpointId).toBe('a');
  });

  it('keeps siblings of a just-routed prompt together through the speculative index', () => {
    const { scheduler } = build();
    const eps = [endpoint('a'), endpoint('b'), endpoint('c'), endpoint('d')];
    const targets: (string | null)[] = [];
    for (let i = 0; i < 4; i++) {
      const req = { ...prompt(4), requestId: `sibling-${i}` };
      const decision = scheduler.schedule(req, fleet(eps), random());
      scheduler.recordDispatch(req, decision, NOW);
      targets.push(decision.endpointId);
    }
    expect(new Set(targets).size).toBe(1);
  });

  it('makes independent routers agree on the pod for a new prompt (rendezvous tie-break)', () => {
    // Two replicas whose views differ slightly (shared in-flight counters lag): each sees one decode
    // on every pod but a different one. That moves costs by far less than the near-best window.
    const busy = (id: string) => endpoint(id, { inflightRequests: 1, inflightTokens: 2000 });
    const views = [
      [busy('a'), busy('b'), endpoint('c'), busy('d')],
      [busy('a'), busy('b'), busy('c'), endpoint('d')],
    ];
    const disagreements = (tieBreak: string) => {
      const replicas = views.map(() => build({ tieBreak }).scheduler);
      let n = 0;
      for (let tag = 30; tag < 50; tag++) {
        const picks = replicas.map(
          (r, i) => r.schedule(prompt(tag), fleet(views[i] ?? []), random()).endpointId,
        );
        if (picks[0] !== picks[1]) n++;
      }
      return n;
    };
    expect(disagreements('rendezvous')).toBe(0);
    // By cost, each replica takes the pod it sees idle: they never agree.
    expect(disagreements('cost')).toBe(20);
  });

  it('uses the approximate producer when the request has no block keys', () => {
    const { scheduler } = build();
    const eps = [endpoint('a'), endpoint('b'), endpoint('c')];
    const promptText = text('system', 40_000);
    const first = request({ promptText, promptTokenEstimate: 10_000 });
    const decision = scheduler.schedule(first, fleet(eps), random());
    scheduler.recordDispatch(first, decision, NOW);
    const again = scheduler.schedule(
      request({ promptText, promptTokenEstimate: 10_000 }),
      fleet(eps, NOW + 5_000),
      random(),
    );
    expect(again.endpointId).toBe(decision.endpointId);
    expect(
      again.trace.producers.find((p) => p.producer === 'precise-prefix-cache-producer')!.summary,
    ).toMatchObject({
      info: 'none',
    });
  });

  it('skips a pod that just failed requests until its next fresh scrape', () => {
    const { scheduler, picker } = build();
    occupy(picker, 'b', 300); // b is otherwise the worse choice
    const failed = (id: string, at: number): ResponseCompleteEvent => ({
      request: request({ requestId: id }),
      decision: {} as never,
      endpointId: 'a',
      nowMs: at,
      outcome: 'error',
    });
    picker.onResponseComplete(failed('x1', NOW - 20));
    picker.onResponseComplete(failed('x2', NOW - 10));
    const stale = [endpoint('a', { metrics: { updatedAtMs: NOW - 50 } }), endpoint('b')];
    expect(scheduler.schedule(prompt(5), fleet(stale), random()).endpointId).toBe('b');
    const fresh = [endpoint('a', { metrics: { updatedAtMs: NOW } }), endpoint('b')];
    expect(scheduler.schedule(prompt(5), fleet(fresh), random()).endpointId).toBe('a');
  });

  it('learns a slow pod from first-token events and sends cold work to the fast one', () => {
    const { scheduler, picker } = build();
    const truth: Record<string, number> = { fast: 4e-5, slow: 1e-4 };
    let n = 0;
    for (let round = 0; round < 30; round++) {
      for (const id of ['fast', 'slow']) {
        const tokens = 500 + ((round * 997) % 6000);
        const requestId = `learn-${n++}`;
        const at = NOW + round * 10_000;
        picker.ledger.dispatch(
          {
            requestId,
            endpointId: id,
            dispatchMs: at,
            promptTokens: tokens,
            uncachedTokens: tokens,
            waitMs: 0,
            steps: 1.5,
            interferenceSeconds: 0,
          },
          at + 100,
        );
        picker.onFirstToken({ requestId, endpointId: id, nowMs: at + (truth[id]! * tokens + 0.015) * 1000 });
        picker.onResponseComplete({
          request: request({ requestId }),
          decision: {} as never,
          endpointId: id,
          nowMs: at + 5000,
          outcome: 'success',
        });
      }
    }
    const slow = picker.learner.rates('slow').secondsPerToken;
    const fast = picker.learner.rates('fast').secondsPerToken;
    expect(slow / fast).toBeGreaterThan(2);
    const eps = [endpoint('slow'), endpoint('fast')];
    expect(scheduler.schedule(prompt(6), fleet(eps, NOW + 400_000), random()).endpointId).toBe('fast');
  });

  it("learns from the router's measured TTFT when no first-token event came", () => {
    const { scheduler, picker } = build();
    const eps = [endpoint('a')];
    const req = prompt(7);
    const decision = scheduler.schedule(req, fleet(eps), random());
    scheduler.recordDispatch(req, decision, NOW);
    expect(picker.ledger.record(req.requestId)).toBeDefined();
    const event: ResponseCompleteEvent & ResponseOutcomeDetails = {
      request: req,
      decision,
      endpointId: 'a',
      nowMs: NOW + 9000,
      outcome: 'success',
      ttftMs: 400,
      promptTokens: 6400,
      cachedTokens: 0,
    };
    scheduler.recordResponseComplete(event);
    expect(picker.learner.fleetRates().observations).toBe(1);
    expect(picker.ledger.record(req.requestId)).toBeUndefined();
    expect(picker.ledger.book('a')!.outstanding).toBe(0);
  });

  it("does not learn from a TTFT that another thread's or replica's request may have delayed", () => {
    // The fleet's in-flight counters count every router thread and replica; the ledger only this picker.
    const observed = (othersDispatch: boolean) => {
      const { scheduler, picker } = build();
      const first = prompt(8);
      const d1 = scheduler.schedule(first, fleet([endpoint('a')]), random());
      scheduler.recordDispatch(first, d1, NOW);
      // 50 ms later: 'a' counts 1 own + (2 others' requests if they dispatched there meanwhile).
      // This picker's own next request goes to idle 'b' (its own requests behind the first one on
      // 'a' would also stop the sample: they share its engine steps).
      const second = prompt(9);
      const view = fleet(
        [endpoint('a', { inflightRequests: othersDispatch ? 3 : 1 }), endpoint('b')],
        NOW + 50,
      );
      const d2 = scheduler.schedule(second, view, random());
      expect(d2.endpointId).toBe('b');
      scheduler.recordDispatch(second, d2, NOW + 50);
      scheduler.recordFirstToken({ requestId: first.requestId, endpointId: 'a', nowMs: NOW + 400 });
      return picker.learner.fleetRates().observations;
    };
    expect(observed(false)).toBe(1);
    expect(observed(true)).toBe(0);
  });

  it("receives the router's first-token events through the scheduler", () => {
    const { scheduler, picker } = build();
    const req = prompt(8);
    const decision = scheduler.schedule(req, fleet([endpoint('a')]), random());
    scheduler.recordDispatch(req, decision, NOW);
    expect(picker.ledger.book('a')!.pending).toHaveLength(1);
    scheduler.recordFirstToken({ requestId: req.requestId, endpointId: 'a', nowMs: NOW + 350 });
    expect(picker.ledger.record(req.requestId)!.firstTokenMs).toBe(NOW + 350);
    expect(picker.ledger.book('a')!.pending).toHaveLength(0);
    expect(picker.learner.fleetRates().observations).toBe(1);
  });

  it('reports the rates each pod is costed with and the load it counts there (debug state)', () => {
    const { scheduler, picker } = build();
    const req = prompt(8);
    const decision = scheduler.schedule(req, fleet([endpoint('a'), endpoint('b')]), random());
    scheduler.recordDispatch(req, decision, NOW);
    const target = decision.endpointId!;
    type State = {
      fleetRates: { samples: number };
      endpoints: Record<
        string,
        { pendingPrefills: number; predictedPrefillBacklogMs: number; outstanding: number }
      >;
    };
    const before = picker.debugState(NOW + 10, ['a', 'b']) as State;
    expect(before.endpoints[target]!.pendingPrefills).toBe(1);
    expect(before.endpoints[target]!.predictedPrefillBacklogMs).toBeGreaterThan(0);
    expect(before.fleetRates.samples).toBe(0);
    scheduler.recordFirstToken({ requestId: req.requestId, endpointId: target, nowMs: NOW + 350 });
    const after = picker.debugState(NOW + 400, ['a', 'b']) as State & {
      endpoints: Record<string, { costedWith: { secondsPerToken: number; source: string } }>;
    };
    expect(after.fleetRates.samples).toBe(1);
    expect(after.endpoints[target]).toMatchObject({
      pendingPrefills: 0,
      predictedPrefillBacklogMs: 0,
      outstanding: 1,
    });
    expect(after.endpoints[target]!.costedWith).toEqual({
      secondsPerToken: picker.learner.rates(target).secondsPerToken,
      stepSeconds: picker.learner.rates(target).stepSeconds,
      source: 'fleet',
    });
  });

  it('returns fallbacks by cost with maxNumOfEndpoints', () => {
    const { scheduler, picker } = build({ maxNumOfEndpoints: 3 });
    occupy(picker, 'a', 500);
    occupy(picker, 'c', 100);
    const decision = scheduler.schedule(
      prompt(8),
      fleet([endpoint('a'), endpoint('b'), endpoint('c')]),
      random(),
    );
    expect([decision.endpointId, ...decision.fallbackEndpointIds]).toEqual(['b', 'c', 'a']);
  });

  it('rejects unknown parameters', () => {
    expect(() => build({ recomputeWeigth: 1 })).toThrow(/recomputeWeigth/);
  });
});
