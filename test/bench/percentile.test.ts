import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { quantileSorted, quantiles, sortedCopy } from '../../bench/stats/percentile.ts';
import { coefficientOfVariation, maxOverMin, mean } from '../../bench/stats/spread.ts';

describe('percentiles (linear interpolation between closest ranks)', () => {
  it('matches hand-computed values', () => {
    const sorted = [1, 2, 3, 4];
    // rank h = (n-1)p: p50 → 1.5 → 2.5; p90 → 2.7 → 3 + 0.7·1; p99 → 2.97 → 3.97
    expect(quantileSorted(sorted, 0.5)).toBeCloseTo(2.5, 12);
    expect(quantileSorted(sorted, 0.9)).toBeCloseTo(3.7, 12);
    expect(quantileSorted(sorted, 0.99)).toBeCloseTo(3.97, 12);
    expect(quantileSorted(sorted, 0)).toBe(1);
    expect(quantileSorted(sorted, 1)).toBe(4);
    // n = 11: p90 rank 9 exactly → the 10th value.
    expect(quantileSorted([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.9)).toBe(90);
  });

  it('sorts numerically, not as strings', () => {
    expect(quantiles([10, 9, 100, 1], [0.5])[0]).toBeCloseTo(9.5, 12);
    expect(Array.from(sortedCopy([10, 9, 100, 1]))).toEqual([1, 9, 10, 100]);
  });

  it('handles one sample, no sample and bad fractions', () => {
    expect(quantileSorted([7], 0.99)).toBe(7);
    expect(quantileSorted([], 0.5)).toBeNaN();
    expect(() => quantileSorted([1], 1.5)).toThrow(RangeError);
  });

  it('is monotone in p and stays within the sample', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 50 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (values, a, b) => {
          const sorted = sortedCopy(values);
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          const qlo = quantileSorted(sorted, lo);
          const qhi = quantileSorted(sorted, hi);
          expect(qlo).toBeLessThanOrEqual(qhi + 1e-9);
          expect(qlo).toBeGreaterThanOrEqual(sorted[0]! - 1e-9);
          expect(qhi).toBeLessThanOrEqual(sorted[sorted.length - 1]! + 1e-9);
        },
      ),
    );
  });
});

describe('spread statistics', () => {
  it('computes the coefficient of variation with the population deviation', () => {
    // mean 5, population standard deviation 2.
    expect(mean([2, 4, 4, 4, 5, 5, 7, 9])).toBe(5);
    expect(coefficientOfVariation([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(0.4, 12);
    expect(coefficientOfVariation([3, 3, 3])).toBe(0);
  });

  it('reports max/min, infinite when a pod got nothing', () => {
    expect(maxOverMin([10, 5, 20])).toBe(4);
    expect(maxOverMin([10, 0])).toBe(Number.POSITIVE_INFINITY);
    expect(maxOverMin([])).toBeNaN();
  });
});
