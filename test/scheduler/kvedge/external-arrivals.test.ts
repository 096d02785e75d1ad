import { describe, expect, it } from 'vitest';
import { ExternalArrivals } from '../../../src/scheduler/kvedge/external-arrivals.ts';

describe('ExternalArrivals', () => {
  it('dates the last growth of others’ outstanding requests per pod', () => {
    const arrivals = new ExternalArrivals();
    arrivals.observe('a', 0, 100);
    expect(arrivals.arrivedSince('a', 0)).toBe(false);
    arrivals.observe('a', 2, 200);
    arrivals.observe('a', 1, 300); // completions are not arrivals
    expect(arrivals.arrivedSince('a', 200)).toBe(true);
    expect(arrivals.arrivedSince('a', 201)).toBe(false);
    arrivals.observe('a', 3, 400);
    expect(arrivals.arrivedSince('a', 350)).toBe(true);
    expect(arrivals.arrivedSince('b', 0)).toBe(false);
  });

  it('forgets pods that left', () => {
    const arrivals = new ExternalArrivals();
    arrivals.observe('a', 1, 100);
    arrivals.retain(new Set(['b']));
    expect(arrivals.arrivedSince('a', 0)).toBe(false);
  });
});
