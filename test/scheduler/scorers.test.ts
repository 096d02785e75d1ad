/**
 * Each scorer against values computed by hand from the llm-d-router.md §2.5 formulas.
 */
import { describe, expect, it } from 'vitest';
import type { EndpointSnapshot } from '../../src/fleet/types.ts';
import type { PluginDefinition } from '../../src/scheduler/plugin-definition.ts';
import type { PrefixMatchData } from '../../src/scheduler/prefix-cache-match-info.ts';
import { activeRequestScorerPlugin } from '../../src/scheduler/scorers/active-request-scorer.ts';
import { kvCacheUtilizationScorerPlugin } from '../../src/scheduler/scorers/kv-cache-utilization-scorer.ts';
import { loadAwareScorerPlugin } from '../../src/scheduler/scorers/load-aware-scorer.ts';
import { loraAffinityScorerPlugin } from '../../src/scheduler/scorers/lora-affinity-scorer.ts';
import { noHitLruScorerPlugin } from '../../src/scheduler/scorers/no-hit-lru-scorer.ts';
import { prefixCacheScorerPlugin } from '../../src/scheduler/scorers/prefix-cache-scorer.ts';
import { queueScorerPlugin } from '../../src/scheduler/scorers/queue-scorer.ts';
import { runningRequestsSizeScorerPlugin } from '../../src/scheduler/scorers/running-requests-size-scorer.ts';
import { tokenLoadScorerPlugin } from '../../src/scheduler/scorers/token-load-scorer.ts';
import type { Scorer } from '../../src/scheduler/types.ts';
import { buildPlugin, cycleFor, dispatchOf, endpoint, request } from './fixtures.ts';
import type { Cycle } from '../../src/scheduler/cycle.ts';

const scorer = <P>(definition: PluginDefinition<P>, params: unknown = {}) =>
  buildPlugin<Scorer, P>(definition, params);

function scores(
  s: Scorer,
  endpoints: readonly EndpointSnapshot[],
  cycle: Cycle = cycleFor(),
): Record<string, number> {
  return Object.fromEntries(s.score(cycle, endpoints));
}

const withQueue = (id: string, waitingQueueSize: number) => endpoint(id, { metrics: { waitingQueueSize } });

describe('queue-scorer', () => {
  it('min-max normalizes waiting queues: (maxQ − q) / (maxQ − minQ)', () => {
    // q = 2, 6, 10 → min 2, max 10: (10−2)/8 = 1, (10−6)/8 = 0.5, 0.
    expect(
      scores(scorer(queueScorerPlugin), [withQueue('a', 2), withQueue('b', 6), withQueue('c', 10)]),
    ).toEqual({
      a: 1,
      b: 0.5,
      c: 0,
    });
  });

  it('scores 1.0 when all queues are equal and leaves endpoints without metrics unscored', () => {
    const result = scores(scorer(queueScorerPlugin), [
      withQueue('a', 3),
      withQueue('b', 3),
      endpoint('c', { metrics: null }),
    ]);
    expect(result).toEqual({ a: 1, b: 1 });
  });
});

describe('running-requests-size-scorer', () => {
  it('min-max normalizes running requests', () => {
    const run = (id: string, runningRequestsSize: number) =>
      endpoint(id, { metrics: { runningRequestsSize } });
    // running 0, 3, 12 → (12−0)/12 = 1, (12−3)/12 = 0.75, 0.
    expect(scores(scorer(runningRequestsSizeScorerPlugin), [run('a', 0), run('b', 3), run('c', 12)])).toEqual(
      {
        a: 1,
        b: 0.75,
        c: 0,
      },
    );
  });
});

describe('kv-cache-utilization-scorer', () => {
  it('is 1 − usage', () => {
    const kv = (id: string, kvCacheUsagePercent: number) =>
      endpoint(id, { metrics: { kvCacheUsagePercent } });
    const result = scores(scorer(kvCacheUtilizationScorerPlugin), [kv('a', 0), kv('b', 0.25), kv('c', 0.9)]);
    expect(result['a']).toBe(1);
    expect(result['b']).toBe(0.75);
    expect(result['c']).toBeCloseTo(0.1, 12);
  });
});

describe('load-aware-scorer', () => {
  it('q=0 → 0.5, q ≥ T → 0, else 0.5·(1 − q/T) with T = 128 by default', () => {
    const result = scores(scorer(loadAwareScorerPlugin), [
      withQueue('idle', 0),
      withQueue('q32', 32),
      withQueue('q128', 128),
      withQueue('q500', 500),
    ]);
    // 0.5·(1 − 32/128) = 0.375
    expect(result).toEqual({ idle: 0.5, q32: 0.375, q128: 0, q500: 0 });
  });

  it('honours threshold', () => {
    // T = 10, q = 4 → 0.5·(1 − 0.4) = 0.3
    expect(scores(scorer(loadAwareScorerPlugin, { threshold: 10 }), [withQueue('a', 4)])['a']).toBeCloseTo(
      0.3,
      12,
    );
  });
});

describe('active-request-scorer', () => {
  const busy = (id: string, inflightRequests: number) => endpoint(id, { inflightRequests });

  it('idle (count ≤ 0) → 1, else (max − count)/max', () => {
    // counts 0, 2, 4: max 4 → 1, (4−2)/4 = 0.5, 0
    expect(scores(scorer(activeRequestScorerPlugin), [busy('a', 0), busy('b', 2), busy('c', 4)])).toEqual({
      a: 1,
      b: 0.5,
      c: 0,
    });
  });

  it('applies idleThreshold and maxBusyScore', () => {
    // idle ≤ 2; counts 1, 3, 4: a idle → 1; b (4−3)/4 · 0.5 = 0.125; c 0
    const s = scorer(activeRequestScorerPlugin, { idleThreshold: 2, maxBusyScore: 0.5 });
    expect(scores(s, [busy('a', 1), busy('b', 3), busy('c', 4)])).toEqual({ a: 1, b: 0.125, c: 0 });
  });
});

describe('token-load-scorer', () => {
  it('is 1 − min(1, inflightTokens / T)', () => {
    const tokens = (id: string, inflightTokens: number) => endpoint(id, { inflightTokens });
    const s = scorer(tokenLoadScorerPlugin, { queueThresholdTokens: 1000 });
    expect(scores(s, [tokens('a', 0), tokens('b', 250), tokens('c', 5000)])).toEqual({ a: 1, b: 0.75, c: 0 });
    // default T = 4194304: 1048576 tokens → 0.75
    expect(scores(scorer(tokenLoadScorerPlugin), [tokens('d', 1048576)])['d']).toBe(0.75);
  });
});

describe('lora-affinity-scorer', () => {
  it('active 1.0, capacity 0.8, waiting 0.6, else 0', () => {
    const lora = (id: string, activeLoras: string[], waitingLoras: string[], maxActiveLoras: number) =>
      endpoint(id, { metrics: { activeLoras, waitingLoras, maxActiveLoras } });
    const cycle = cycleFor(request({ targetModel: 'sql-lora' }));
    const result = scores(
      scorer(loraAffinityScorerPlugin),
      [
        lora('active', ['sql-lora'], [], 1),
        lora('room', ['other'], [], 4),
        lora('waiting', ['x', 'y'], ['sql-lora'], 3),
        lora('full', ['x', 'y'], [], 2),
      ],
      cycle,
    );
    expect(result).toEqual({ active: 1, room: 0.8, waiting: 0.6, full: 0 });
  });
});

function withPrefix(data: PrefixMatchData | undefined, producer = 'approx-prefix-cache-producer'): Cycle {
  const cycle = cycleFor();
  if (data) cycle.setProducerData(producer, data);
  return cycle;
}

describe('prefix-cache-scorer', () => {
  const eps = [endpoint('a'), endpoint('b'), endpoint('c')];
  const data: PrefixMatchData = {
    matches: new Map([
      ['a', 30],
      ['b', 64],
    ]),
    totalBlocks: 100,
    blockSizeTokens: 64,
  };

  it('defaults to the matched fraction matchBlocks / totalBlocks', () => {
    expect(scores(scorer(prefixCacheScorerPlugin), eps, withPrefix(data))).toEqual({ a: 0.3, b: 0.64, c: 0 });
  });

  it('blends in the squared match length with matchLengthWeight', () => {
    // w = 0.5, scale 8192: b holds 64 blocks × 64 tokens = 4096 → 0.5·(4096/8192)² + 0.5·0.64 = 0.125 + 0.32
    const s = scorer(prefixCacheScorerPlugin, { matchLengthWeight: 0.5 });
    const result = scores(s, eps, withPrefix(data));
    expect(result['b']).toBeCloseTo(0.445, 12);
    // a: 30·64 = 1920 → 0.5·(1920/8192)² + 0.5·0.3
    expect(result['a']).toBeCloseTo(0.5 * (1920 / 8192) ** 2 + 0.15, 12);
  });

  it('scores 0 without info and reads the configured producer', () => {
    expect(scores(scorer(prefixCacheScorerPlugin), eps, withPrefix(undefined))).toEqual({ a: 0, b: 0, c: 0 });
    const precise = scorer(prefixCacheScorerPlugin, {
      prefixMatchInfoProducerName: 'precise-prefix-cache-producer',
    });
    expect(scores(precise, eps, withPrefix(data))).toEqual({ a: 0, b: 0, c: 0 });
    expect(scores(precise, eps, withPrefix(data, 'precise-prefix-cache-producer'))['b']).toBe(0.64);
  });
});

describe('no-hit-lru-scorer', () => {
  const eps = ['a', 'b', 'c', 'd'].map((id) => endpoint(id));
  const cold: PrefixMatchData = { matches: new Map(), totalBlocks: 10, blockSizeTokens: 64 };

  it('gives every endpoint 0.5 when any candidate has a prefix hit', () => {
    const hit: PrefixMatchData = { matches: new Map([['c', 1]]), totalBlocks: 10, blockSizeTokens: 64 };
    expect(scores(scorer(noHitLruScorerPlugin), eps, withPrefix(hit))).toEqual({
      a: 0.5,
      b: 0.5,
      c: 0.5,
      d: 0.5,
    });
  });

  it('ranks never-used endpoints first, then least recently used; score = 1 − rank/(n − 1)', () => {
    const s = scorer(noHitLruScorerPlugin) as Scorer & { onDispatch: NonNullable<Scorer['onDispatch']> };
    // Cold requests dispatched to b, then a: LRU order (oldest first) = [b, a].
    for (const target of ['b', 'a']) {
      const cycle = withPrefix(cold);
      s.score(cycle, eps);
      s.onDispatch(dispatchOf(cycle, target));
    }
    // never used c, d → ranks 0, 1; b rank 2; a rank 3; n − 1 = 3.
    const result = scores(s, eps, withPrefix(cold));
    expect(result['c']).toBe(1);
    expect(result['d']).toBeCloseTo(2 / 3, 12);
    expect(result['b']).toBeCloseTo(1 / 3, 12);
    expect(result['a']).toBe(0);
  });

  it('does not move the LRU for requests with hits', () => {
    const s = scorer(noHitLruScorerPlugin) as Scorer & { onDispatch: NonNullable<Scorer['onDispatch']> };
    const hit: PrefixMatchData = { matches: new Map([['a', 3]]), totalBlocks: 10, blockSizeTokens: 64 };
    const cycle = withPrefix(hit);
    s.score(cycle, eps);
    s.onDispatch(dispatchOf(cycle, 'a'));
    // a was not recorded: all four are still never-used, in candidate order.
    expect(scores(s, eps, withPrefix(cold))['a']).toBe(1);
  });

  it('gives a single candidate 1.0', () => {
    expect(scores(scorer(noHitLruScorerPlugin), [endpoint('a')], withPrefix(cold))).toEqual({ a: 1 });
  });
});
