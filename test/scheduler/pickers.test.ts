import { describe, expect, it } from 'vitest';
import { maxScorePickerPlugin } from '../../src/scheduler/pickers/max-score-picker.ts';
import { randomPickerPlugin } from '../../src/scheduler/pickers/random-picker.ts';
import { roundRobinPickerPlugin } from '../../src/scheduler/pickers/round-robin-picker.ts';
import { weightedRandomPickerPlugin } from '../../src/scheduler/pickers/weighted-random-picker.ts';
import type { PluginDefinition } from '../../src/scheduler/plugin-definition.ts';
import { createRandom } from '../../src/scheduler/prng.ts';
import type { Picker, ScoredEndpoint } from '../../src/scheduler/types.ts';
import { Cycle } from '../../src/scheduler/cycle.ts';
import { buildPlugin, dispatchOf, endpoint, fleet, request } from './fixtures.ts';

const picker = <P>(definition: PluginDefinition<P>, params: unknown = {}) =>
  buildPlugin<Picker, P>(definition, params);
const scored = (entries: Record<string, number>): ScoredEndpoint[] =>
  Object.entries(entries).map(([id, score]) => ({ endpoint: endpoint(id), score }));

/** Picks `n` times with one seeded PRNG and counts first picks. */
function tally(p: Picker, candidates: ScoredEndpoint[], n: number, seed: number): Record<string, number> {
  const random = createRandom(seed);
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const [first] = p.pick(new Cycle(request(), fleet([]), random), candidates);
    counts[first!] = (counts[first!] ?? 0) + 1;
  }
  return counts;
}

describe('max-score-picker', () => {
  it('picks the highest score and orders fallbacks by score', () => {
    const p = picker(maxScorePickerPlugin, { maxNumOfEndpoints: 3 });
    const cycle = new Cycle(request(), fleet([]), createRandom(3));
    expect(p.pick(cycle, scored({ a: 1.5, b: 4.2, c: 3, d: 0 }))).toEqual(['b', 'c', 'a']);
  });

  it('spreads ties across the tied endpoints, never picking a lower score', () => {
    const counts = tally(
      picker(maxScorePickerPlugin),
      scored({ a: 5, b: 5, c: 5, d: 5, low: 4.99 }),
      4000,
      42,
    );
    expect(counts['low']).toBeUndefined();
    for (const id of ['a', 'b', 'c', 'd']) {
      // Expected 1000 each; ±15% is > 9 standard deviations for a fair split.
      expect(counts[id]).toBeGreaterThan(850);
      expect(counts[id]).toBeLessThan(1150);
    }
  });

  it('is deterministic for a seed', () => {
    const p = picker(maxScorePickerPlugin);
    const sequence = (seed: number) => {
      const random = createRandom(seed);
      return Array.from(
        { length: 50 },
        () => p.pick(new Cycle(request(), fleet([]), random), scored({ a: 1, b: 1, c: 1 }))[0],
      );
    };
    expect(sequence(7)).toEqual(sequence(7));
    expect(sequence(7)).not.toEqual(sequence(8));
  });
});

describe('random-picker', () => {
  it('ignores scores and is roughly uniform', () => {
    const counts = tally(picker(randomPickerPlugin), scored({ a: 100, b: 0, c: 0 }), 3000, 5);
    for (const id of ['a', 'b', 'c']) expect(counts[id]).toBeGreaterThan(850);
  });
});

describe('weighted-random-picker', () => {
  it('picks with probability proportional to score', () => {
    // P(a first) = 3 / (3 + 1) = 0.75 for A-Res sampling.
    const counts = tally(picker(weightedRandomPickerPlugin), scored({ a: 3, b: 1 }), 8000, 9);
    expect(counts['a']! / 8000).toBeGreaterThan(0.73);
    expect(counts['a']! / 8000).toBeLessThan(0.77);
  });

  it('never picks a zero score while a positive one exists, and is random when all are zero', () => {
    expect(tally(picker(weightedRandomPickerPlugin), scored({ a: 0, b: 0.01 }), 500, 1)).toEqual({ b: 500 });
    const counts = tally(picker(weightedRandomPickerPlugin), scored({ a: 0, b: 0 }), 2000, 2);
    expect(counts['a']).toBeGreaterThan(850);
    expect(counts['b']).toBeGreaterThan(850);
  });
});

describe('round-robin-picker', () => {
  it('cycles in id order, advancing only on dispatch', () => {
    const p = picker(roundRobinPickerPlugin);
    const candidates = scored({ c: 0, a: 9, b: 1 });
    const picks: string[] = [];
    for (let i = 0; i < 4; i++) {
      const cycle = new Cycle(request(), fleet([]), createRandom(1));
      const [first] = p.pick(cycle, candidates);
      picks.push(first!);
      // Re-scheduling without dispatch picks the same endpoint.
      expect(p.pick(cycle, candidates)[0]).toBe(first);
      p.onDispatch?.(dispatchOf(cycle, first!));
    }
    expect(picks).toEqual(['a', 'b', 'c', 'a']);
  });
});
