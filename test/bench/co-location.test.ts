import { describe, expect, it } from 'vitest';
import type { RequestRecord } from '../../bench/des/run-result.ts';
import { coLocation } from '../../bench/report/co-location.ts';
import { hitTimeline } from '../../bench/report/hit-timeline.ts';

function record(over: Partial<RequestRecord>): RequestRecord {
  return {
    id: 'x',
    stage: 0,
    pod: 'p0',
    arrivalS: 0,
    firstTokenS: 1,
    finishS: 2,
    promptTokens: 100,
    cachedTokens: 0,
    completionTokens: 1,
    decisionUs: 1,
    error: null,
    ...over,
  };
}

describe('sibling co-location', () => {
  it('measures the share on each group’s modal pod', () => {
    const records = [
      ...['p0', 'p0', 'p0', 'p0'].map((pod) => record({ group: 'a', pod })),
      ...['p1', 'p1', 'p2', 'p3'].map((pod) => record({ group: 'b', pod })),
    ];
    expect(coLocation(records)).toMatchObject({
      groups: 2,
      onModalPod: 6 / 8,
      fullyCoLocated: 0.5,
      worstGroup: 0.5,
    });
  });

  it('counts, per burst, the most groups placed on one pod', () => {
    const burst = (stage: number, modalPods: string[]) =>
      modalPods.flatMap((pod, i) => [pod, pod].map(() => record({ group: `s${stage}g${i}`, stage, pod })));
    const records = [...burst(0, ['p0', 'p1', 'p2', 'p3']), ...burst(1, ['p0', 'p0', 'p0', 'p1'])];
    expect(coLocation(records)!.busiestPod).toEqual({ mean: 2, worst: 3, even: 1 });
  });

  it('is absent without groups', () => {
    expect(coLocation([record({})])).toBeNull();
  });
});

describe('hit rate timeline around churn', () => {
  const at = (arrivalS: number, hit: number) => record({ arrivalS, cachedTokens: hit * 100 });
  const events = [
    { atS: 30, action: 'kill' as const, pod: 1 },
    { atS: 50, action: 'restore' as const, pod: 1 },
  ];

  it('reports windows, the pre-kill level and the recovery time', () => {
    const records = [
      at(5, 0.9),
      at(15, 0.8),
      at(25, 0.8),
      at(35, 0.4),
      at(45, 0.5),
      at(55, 0.6),
      at(65, 0.79),
    ];
    const t = hitTimeline(records, events)!;
    expect(t.hitRates.map((r) => Math.round(r * 100))).toEqual([90, 80, 80, 40, 50, 60, 79]);
    expect(t.beforeKill).toBeCloseTo((0.9 + 0.8 + 0.8) / 3, 12);
    // 0.79 ≥ 0.95 × 0.8333 = 0.7917? No: the 60–70 window is 0.79 < 0.7917, so never recovered.
    expect(t.recoveryS).toBeNaN();
    const recovered = hitTimeline([...records.slice(0, 6), at(65, 0.8)], events)!;
    expect(recovered.recoveryS).toBe(20);
  });

  it('is absent without a kill', () => {
    expect(hitTimeline([at(1, 1)], [])).toBeNull();
  });
});
