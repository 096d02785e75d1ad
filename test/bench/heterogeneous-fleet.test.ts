import { describe, expect, it } from 'vitest';
import { runDes } from '../../bench/des/driver.ts';
import { policyByName } from '../../bench/policies/catalog.ts';
import {
  alternateSlowdown,
  engineConfigForFleet,
  relativeFleetSpeed,
  slowedEngineConfig,
} from '../../bench/workloads/fleet-shape.ts';
import {
  llmdSharedPrefix,
  llmdSharedPrefixHeterogeneous,
} from '../../bench/workloads/llm-d-shared-prefix.ts';
import { parseOptions, workloadOptionsFrom } from '../../bench/cli/options.ts';
import { request, tinyWorkload, tokens, TINY_FLEET } from './fixtures.ts';

describe('heterogeneous fleet', () => {
  it('slows the odd pods and scales every step-time coefficient', () => {
    expect(alternateSlowdown(5, 2)).toEqual([1, 2, 1, 2, 1]);
    const base = engineConfigForFleet(TINY_FLEET);
    const slow = slowedEngineConfig(base, 2);
    for (const k of ['a', 'b', 'c', 'd'] as const) expect(slow.timing[k]).toBeCloseTo(base.timing[k] * 2, 12);
    expect(slow.timing.kvCacheTokens).toBe(base.timing.kvCacheTokens);
    expect(slowedEngineConfig(base, 1)).toBe(base);
    expect(relativeFleetSpeed({ ...TINY_FLEET, pods: 4, slowdown: [1, 2, 1, 2] })).toBeCloseTo(0.75, 12);
  });

  it('runs a slowed pod slower in the DES', () => {
    const prompt = (i: number) => tokens(1000 * i, 120);
    // Round robin sends request i to pod i: same prompt length everywhere, only the speed differs.
    const requests = [0, 1, 2].map((i) => request(`r${i}`, i * 0.001, prompt(i), 8));
    const uniform = tinyWorkload(requests);
    const mixed = tinyWorkload(requests, { fleet: { ...TINY_FLEET, slowdown: [1, 3, 1] } });
    const ttft = (w: typeof uniform) =>
      runDes({
        workload: w,
        engine: engineConfigForFleet(w.fleet),
        policy: policyByName('round-robin'),
        seed: 1,
      })
        .records.slice()
        .sort((x, y) => x.pod!.localeCompare(y.pod!))
        .map((r) => r.firstTokenS - r.arrivalS);
    const [u0, u1] = ttft(uniform);
    const [m0, m1] = ttft(mixed);
    expect(m0).toBeCloseTo(u0!, 9);
    expect(m1! / u1!).toBeGreaterThan(2.5);
  });

  it('places the heterogeneous W1 ladder against the slower fleet', () => {
    const uniform = llmdSharedPrefix.build({ seed: 1 });
    const mixed = llmdSharedPrefixHeterogeneous.build({ seed: 1 });
    expect(mixed.fleet.slowdown).toEqual([1, 2, 1, 2, 1, 2, 1, 2]);
    expect(uniform.fleet.slowdown).toBeUndefined();
    const top = (w: typeof uniform) => Math.max(...w.stages.map((s) => s.rate ?? 0));
    expect(top(mixed) / top(uniform)).toBeCloseTo(0.75, 1);
  });

  it('takes --slow-pods from the command line', () => {
    const o = parseOptions(['--workload', 'llm-d-shared-prefix', '--slow-pods', '3']);
    expect(llmdSharedPrefix.build(workloadOptionsFrom(o)).fleet.slowdown).toEqual([1, 3, 1, 3, 1, 3, 1, 3]);
    expect(() => parseOptions(['--slow-pods', '0'])).toThrow();
  });
});
