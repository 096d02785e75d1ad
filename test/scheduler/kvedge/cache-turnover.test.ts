import { describe, expect, it } from 'vitest';
import { CacheTurnover, turnoverExcess } from '../../../src/scheduler/kvedge/cache-turnover.ts';

describe('CacheTurnover', () => {
  it('decays written tokens with the window as time constant', () => {
    const t = new CacheTurnover(10_000);
    t.record('a', 1000, 0);
    expect(t.tokensWritten('a', 0)).toBe(1000);
    expect(t.tokensWritten('a', 10_000)).toBeCloseTo(1000 * Math.exp(-1), 9);
    t.record('a', 500, 10_000);
    expect(t.tokensWritten('a', 20_000)).toBeCloseTo((1000 * Math.exp(-1) + 500) * Math.exp(-1), 9);
    expect(t.tokensWritten('b', 20_000)).toBe(0);
  });

  it('ignores non-positive writes and forgets pods that left', () => {
    const t = new CacheTurnover(1000);
    t.record('a', 0, 0);
    t.record('a', -5, 0);
    t.record('b', 100, 0);
    expect(t.tokensWritten('a', 0)).toBe(0);
    t.retain(new Set(['a']));
    expect(t.tokensWritten('b', 0)).toBe(0);
  });

  it('rejects a non-positive window', () => {
    expect(() => new CacheTurnover(0)).toThrow(RangeError);
  });
});

describe('turnoverExcess', () => {
  it('is the fraction of capacity written minus the fleet fraction, floored at 0', () => {
    // fleet: 1000 written over 400 capacity = 2.5 cache-fulls; pod 0: 600/200 = 3, pod 1: 300/100 = 3
    const e = turnoverExcess([600, 300, 100], [200, 100, 100]);
    expect(e[0]).toBeCloseTo(0.5, 12);
    expect(e[1]).toBeCloseTo(0.5, 12);
    expect(e[2]).toBe(0);
  });

  it('stays near 0 while little of the cache was written, however uneven', () => {
    // one prompt of 6400 tokens on one of four idle pods of 160k tokens each
    const e = turnoverExcess([6400, 0, 0, 0], [160_000, 160_000, 160_000, 160_000]);
    expect(e[0]).toBeCloseTo(0.04 - 0.01, 12);
  });

  it('counts a pod of unknown capacity as the mean known one, and is 0 with none known', () => {
    expect(turnoverExcess([200, 100, 100], [100, null, 100])[0]).toBeCloseTo(2 - 400 / 300, 12);
    expect(turnoverExcess([200, 100, 100], [null, null, null])).toEqual([0, 0, 0]);
  });

  it('forgives the dead zone', () => {
    const e = turnoverExcess([600, 300, 100], [200, 100, 100], 0.2);
    expect(e[0]).toBeCloseTo(0.3, 12);
    expect(turnoverExcess([600, 300, 100], [200, 100, 100], 0.6)).toEqual([0, 0, 0]);
  });

  it('is all zeros before anything was written', () => {
    expect(turnoverExcess([0, 0], [100, 100])).toEqual([0, 0]);
  });
});
