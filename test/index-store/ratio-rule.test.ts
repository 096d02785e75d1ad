import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { forEachEngineRun } from '../../src/index-store/ratio-rule.ts';

function runs(engine: number, request: number): [number, number, number][] {
  const out: [number, number, number][] = [];
  forEachEngineRun(engine, request, (e, first, count) => out.push([e, first, count]));
  return out;
}

describe('forEachEngineRun (llm-d ratio rule)', () => {
  it('pairs 1:1, 1:many and many:1', () => {
    expect(runs(3, 3)).toEqual([
      [0, 0, 1],
      [1, 1, 1],
      [2, 2, 1],
    ]);
    expect(runs(2, 8)).toEqual([
      [0, 0, 4],
      [1, 4, 4],
    ]);
    expect(runs(4, 2)).toEqual([
      [0, 0, 1],
      [1, 0, 1],
      [2, 1, 1],
      [3, 1, 1],
    ]);
    expect(runs(0, 4)).toEqual([]);
    expect(runs(4, 0)).toEqual([]);
  });

  it('visits every engine key once, in order, and covers every request key', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 64 }), (e, r) => {
        const out = runs(e, r);
        expect(out.map(([engine]) => engine)).toEqual(Array.from({ length: e }, (_, i) => i));
        const covered = new Set(
          out.flatMap(([, first, count]) => Array.from({ length: count }, (_, i) => first + i)),
        );
        expect(covered.size).toBe(r);
        expect(Math.max(...covered)).toBe(r - 1);
      }),
    );
  });
});
