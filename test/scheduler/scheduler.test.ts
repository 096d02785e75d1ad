import { describe, expect, it } from 'vitest';
import type { EndpointSnapshot } from '../../src/fleet/types.ts';
import { loadNamedConfig } from '../../src/scheduler/config/loader.ts';
import { MaxScorePicker } from '../../src/scheduler/pickers/max-score-picker.ts';
import { createRandom } from '../../src/scheduler/prng.ts';
import { SingleProfileHandler } from '../../src/scheduler/profile-handlers/single-profile-handler.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import type { CandidateTrace } from '../../src/scheduler/trace.ts';
import type { Decision, Filter, PluginTiming, Scorer } from '../../src/scheduler/types.ts';
import { endpoint, fleet, NOW, request, text } from './fixtures.ts';

const fixedScorer = (name: string, values: Record<string, number>): Scorer => ({
  kind: 'scorer',
  type: 'fixed',
  name,
  category: 'distribution',
  score: () => new Map(Object.entries(values)),
});

const dropFilter = (name: string, drop: string[]): Filter => ({
  kind: 'filter',
  type: 'drop',
  name,
  filter: (_cycle, candidates) => ({
    kept: candidates.filter((e) => !drop.includes(e.info.id)),
    reasons: new Map(drop.map((id) => [id, 'test drop'])),
  }),
});

function schedulerOf(filters: Filter[], scorers: { scorer: Scorer; weight: number }[]): Scheduler {
  return new Scheduler({
    profiles: [{ name: 'default', filters, scorers, picker: new MaxScorePicker('max-score-picker', 1) }],
    profileHandler: new SingleProfileHandler('single-profile-handler'),
    producers: [],
  });
}

const candidate = (decision: Decision, id: string): CandidateTrace =>
  decision.trace.profiles[0]!.candidates.find((c) => c.endpointId === id)!;

describe('scheduling core (llm-d-router.md §2.2)', () => {
  const eps = [endpoint('a'), endpoint('b'), endpoint('c')];

  it('sums clamp(score, 0, 1) × weight per scorer; unscored endpoints contribute 0', () => {
    const scheduler = schedulerOf(
      [],
      [
        { scorer: fixedScorer('s1', { a: 1.5, b: -0.2, c: 0.4 }), weight: 2 },
        { scorer: fixedScorer('s2', { a: 0.1, b: 0.5 }), weight: 3 },
      ],
    );
    const decision = scheduler.schedule(request(), fleet(eps), { random: createRandom(1) });
    // a: 2·1 + 3·0.1 = 2.3; b: 2·0 + 3·0.5 = 1.5; c: 2·0.4 + 0 = 0.8
    expect(candidate(decision, 'a').total).toBeCloseTo(2.3, 12);
    expect(candidate(decision, 'b').total).toBeCloseTo(1.5, 12);
    expect(candidate(decision, 'c').total).toBeCloseTo(0.8, 12);
    expect(decision.endpointId).toBe('a');
    expect(candidate(decision, 'a').scores[0]).toEqual({
      scorer: 's1',
      type: 'fixed',
      raw: 1.5,
      clamped: 1,
      weight: 2,
      contribution: 2,
    });
    expect(candidate(decision, 'c').scores[1]).toMatchObject({ raw: null, clamped: 0, contribution: 0 });
  });

  it('records filter verdicts and the filter that dropped each endpoint', () => {
    const scheduler = schedulerOf([dropFilter('f1', ['a']), dropFilter('f2', ['b'])], []);
    const decision = scheduler.schedule(request(), fleet(eps), { random: createRandom(1) });
    expect(decision.endpointId).toBe('c');
    expect(candidate(decision, 'a')).toMatchObject({
      droppedBy: 'f1',
      filters: [{ filter: 'f1', verdict: 'dropped', reason: 'test drop' }],
      total: null,
    });
    expect(candidate(decision, 'b').filters).toEqual([
      { filter: 'f1', verdict: 'kept' },
      { filter: 'f2', verdict: 'dropped', reason: 'test drop' },
    ]);
  });

  it('fails with 429 rejected-saturated when filters remove every candidate', () => {
    const scheduler = schedulerOf([dropFilter('all', ['a', 'b', 'c'])], []);
    const decision = scheduler.schedule(request(), fleet(eps), { random: createRandom(1) });
    expect(decision.endpointId).toBeNull();
    expect(decision.failure).toMatchObject({ reason: 'rejected-saturated', httpStatus: 429 });
    expect(decision.failure?.message).toContain("filter 'all' removed every candidate");
    expect(decision.trace.profiles[0]!.status).toBe('failed');
  });

  it('fails with 503 rejected-no-endpoints without healthy endpoints, and excludes unhealthy ones', () => {
    const scheduler = schedulerOf([], []);
    const none = scheduler.schedule(request(), fleet([endpoint('x', { healthy: false })]), {
      random: createRandom(1),
    });
    expect(none.failure).toMatchObject({ reason: 'rejected-no-endpoints', httpStatus: 503 });
    const some = scheduler.schedule(request(), fleet([endpoint('x', { healthy: false }), endpoint('y')]), {
      random: createRandom(1),
    });
    expect(some.endpointId).toBe('y');
    expect(some.trace.candidates.excluded).toEqual([{ endpointId: 'x', reason: 'unhealthy' }]);
  });

  it('produces a JSON-serializable trace and reports plugin timings through the context', () => {
    const { scheduler } = loadNamedConfig('llm-d-well-lit');
    let clock = 0;
    const timings: PluginTiming[] = [];
    const decision = scheduler.schedule(request({ promptText: text('x', 5000) }), fleet(eps), {
      random: createRandom(1),
      timer: () => (clock += 1),
      onPluginTiming: (t) => timings.push(t),
    });
    expect(JSON.parse(JSON.stringify(decision.trace))).toEqual(decision.trace);
    const names = timings.map((t) => `${t.extensionPoint}:${t.pluginName}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'producer:approx-prefix-cache-producer',
        'scorer:queue-scorer',
        'scorer:kv-cache-utilization-scorer',
        'scorer:prefix-cache-scorer',
        'picker:max-score-picker',
        'profile-handler:single-profile-handler',
      ]),
    );
    expect(timings.every((t) => t.durationMs === 1)).toBe(true);
    expect(decision.trace.timings?.totalMs).toBeGreaterThan(timings.length);
    expect(
      scheduler.schedule(request(), fleet(eps), { random: createRandom(1) }).trace.timings,
    ).toBeUndefined();
  });

  it('does not change plugin state until the decision is dispatched', () => {
    const { scheduler } = loadNamedConfig('llm-d-well-lit');
    const prompt = text('shared', 64 * 4 * 20);
    const first = scheduler.schedule(request({ promptText: prompt }), fleet(eps), {
      random: createRandom(3),
    });
    const again = scheduler.schedule(request({ promptText: prompt }), fleet(eps), {
      random: createRandom(3),
    });
    expect((again.trace.producers[0]!.summary as { matchedBlocks: object }).matchedBlocks).toEqual({});
    expect(again.endpointId).toBe(first.endpointId);
    scheduler.recordDispatch(request({ promptText: prompt }), first, NOW);
    const after = scheduler.schedule(request({ promptText: prompt }), fleet(eps), {
      random: createRandom(3),
    });
    expect((after.trace.producers[0]!.summary as { matchedBlocks: object }).matchedBlocks).toEqual({
      [first.endpointId!]: 20,
    });
  });
});

describe('default config: the well-lit trade-off (prefix 3, KV 2, queue 2)', () => {
  const BLOCK = 64 * 4; // bytes per 64-token block
  const system = text('system', 90 * BLOCK);
  const metrics = (waitingQueueSize: number, kvCacheUsagePercent: number) => ({
    metrics: { waitingQueueSize, kvCacheUsagePercent },
  });

  /** A loaded default scheduler where endpoint `a` already served a prompt with the 90-block system prompt. */
  function warmed() {
    const { scheduler } = loadNamedConfig('llm-d-well-lit');
    const warm = request({ promptText: system + text('q0', 10 * BLOCK) });
    const decision = scheduler.schedule(warm, fleet([endpoint('a'), endpoint('b'), endpoint('c')]), {
      random: createRandom(1),
    });
    scheduler.recordDispatch(warm, { ...decision, endpointId: 'a' }, NOW);
    return scheduler;
  }

  function route(eps: EndpointSnapshot[]) {
    const scheduler = warmed();
    const decision = scheduler.schedule(
      request({ promptText: system + text('q1', 10 * BLOCK) }),
      fleet(eps),
      {
        random: createRandom(2),
      },
    );
    const totals = Object.fromEntries(
      decision.trace.profiles[0]!.candidates.map((c) => [c.endpointId, c.total]),
    );
    return { decision, totals };
  }

  // a holds 90 of the 100 blocks → prefix score 0.9 → 3 × 0.9 = 2.7.
  it('routes to the prefix holder when its queue is moderately longer', () => {
    const { decision, totals } = route([
      endpoint('a', metrics(2, 0.3)),
      endpoint('b', metrics(0, 0.3)),
      endpoint('c', metrics(8, 0.3)),
    ]);
    // a: 2.7 + 2·0.7 + 2·(8−2)/8 = 5.6; b: 0 + 1.4 + 2 = 3.4; c: 0 + 1.4 + 0 = 1.4
    expect(totals['a']).toBeCloseTo(5.6, 12);
    expect(totals['b']).toBeCloseTo(3.4, 12);
    expect(totals['c']).toBeCloseTo(1.4, 12);
    expect(decision.endpointId).toBe('a');
  });

  it('still prefers the prefix holder with the deepest queue, as long as its KV cache is not full', () => {
    const { decision, totals } = route([
      endpoint('a', metrics(20, 0.3)),
      endpoint('b', metrics(0, 0.3)),
      endpoint('c', metrics(8, 0.3)),
    ]);
    // a: 2.7 + 1.4 + 0 = 4.1; b: 3.4; c: 1.4 + 2·(20−8)/20 = 2.6
    expect(totals['a']).toBeCloseTo(4.1, 12);
    expect(totals['c']).toBeCloseTo(2.6, 12);
    expect(decision.endpointId).toBe('a');
  });

  it('leaves the prefix holder when it is much deeper and its KV cache is nearly full', () => {
    const { decision, totals } = route([
      endpoint('a', metrics(40, 0.9)),
      endpoint('b', metrics(0, 0.3)),
      endpoint('c', metrics(8, 0.3)),
    ]);
    // a: 2.7 + 2·0.1 + 0 = 2.9; b: 0 + 1.4 + 2 = 3.4; c: 1.4 + 2·(40−8)/40 = 3.0
    expect(totals['a']).toBeCloseTo(2.9, 12);
    expect(totals['b']).toBeCloseTo(3.4, 12);
    expect(totals['c']).toBeCloseTo(3.0, 12);
    expect(decision.endpointId).toBe('b');
  });
});
