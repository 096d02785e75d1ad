import { describe, expect, it } from 'vitest';
import type { EndpointSnapshot } from '../../src/fleet/types.ts';
import { DynamoKvCostPicker, dynamoKvCostParameters } from '../../src/scheduler/peers/dynamo-kv-cost.ts';
import { ActiveSequences } from '../../src/scheduler/peers/dynamo-active-sequences.ts';
import { createRandom } from '../../src/scheduler/prng.ts';
import type { SchedulingCycle } from '../../src/scheduler/types.ts';

function endpoint(id: string): EndpointSnapshot {
  return {
    info: { id, host: id, port: 8000, labels: {}, models: [] },
    healthy: true,
    metrics: null,
    inflight: { requests: 0, tokens: 0 },
    servedModels: [],
  };
}

const A = endpoint('a');
const B = endpoint('b');
const C = endpoint('c');
const keys = (from: number, n: number) => Array.from({ length: n }, (_, i) => BigInt(from + i));

function picker(params: Record<string, unknown> = {}, cachedBlocks?: (id: string) => number) {
  return new DynamoKvCostPicker(
    'd',
    dynamoKvCostParameters.parse(params),
    cachedBlocks ? { cachedBlocks } : {},
  );
}

function cycle(
  overlaps: Record<string, number>,
  promptTokens: number,
  blockKeys?: bigint[],
  seed = 1,
): SchedulingCycle {
  const state = new Map<string, unknown>();
  return {
    request: {
      requestId: 'r',
      targetModel: 'm',
      promptText: '',
      promptTokenEstimate: promptTokens,
      ...(blockKeys ? { blockKeys } : {}),
      headers: {},
    },
    fleet: { nowMs: 0, endpoints: [A, B, C] },
    nowMs: 0,
    random: createRandom(seed),
    producerData: <T>() =>
      ({ matches: new Map(Object.entries(overlaps)), totalBlocks: 10, blockSizeTokens: 16 }) as T,
    pluginState: <T>(name: string) => state.get(name) as T,
    setPluginState: (name, value) => state.set(name, value),
    attributes: new Map(),
    note: () => {},
  };
}

describe('Dynamo KV cost (peer-routers.md §2.2, defaults)', () => {
  it('computes prefill blocks after overlap credit plus decode blocks, by hand', () => {
    const p = picker();
    // Worker b runs a 3-block request still in prefill (48 tokens) with 3 distinct blocks.
    p.active.add('busy', 'b', 48, keys(1000, 3), 3);
    // 160-token prompt = 10 blocks of 16.
    const costs = p.costs(
      [A, B, C],
      new Map([
        ['a', 8],
        ['b', 0],
        ['c', 0],
      ]),
      160,
      16,
      keys(0, 10),
    );
    // a: max(0 + 10 − 8, 0) = 2, decode 0 + 10 → 12.
    expect(costs[0]).toMatchObject({ adjustedPrefillBlocks: 2, decodeBlocks: 10, cost: 12 });
    // b: prefill 3 + 10 = 13, decode 3 + 10 → 26.
    expect(costs[1]).toMatchObject({ adjustedPrefillBlocks: 13, decodeBlocks: 13, cost: 26 });
    // c: 10 + 10 → 20.
    expect(costs[2]).toMatchObject({ adjustedPrefillBlocks: 10, decodeBlocks: 10, cost: 20 });
  });

  it('counts only the blocks a worker is not already decoding (unique active blocks)', () => {
    const p = picker();
    p.active.add('sibling', 'a', 0, keys(0, 8), 8); // same first 8 blocks, prefill done
    const [a, b] = p.costs([A, B], new Map(), 160, 16, keys(0, 10));
    expect(a!.decodeBlocks).toBe(8 + 2);
    expect(b!.decodeBlocks).toBe(10);
  });

  it('clamps prefill at zero and scales it by prefill_load_scale', () => {
    const [a] = picker({ overlapScoreCredit: 2, prefillLoadScale: 3 }).costs(
      [A],
      new Map([['a', 10]]),
      160,
      16,
    );
    expect(a).toMatchObject({ adjustedPrefillBlocks: 0, cost: 10 });
    const [b] = picker({ prefillLoadScale: 3 }).costs([B], new Map([['b', 4]]), 160, 16);
    expect(b!.cost).toBe(3 * 6 + 10);
  });

  it('decays the credit of workers with more active prefill than the least busy', () => {
    const p = picker({ overlapScoreCreditDecay: 1 });
    p.active.add('x', 'b', 160, null, 10); // b: 10 active prefill blocks, a: 0
    const [a, b] = p.costs(
      [A, B],
      new Map([
        ['a', 5],
        ['b', 5],
      ]),
      160,
      16,
    );
    // a: decay 1 → 10 − 5 = 5. b: decay 1/(1 + 1·(10 − 0)/10) = 0.5 → 10 + 10 − 2.5 = 17.5.
    expect(a!.adjustedPrefillBlocks).toBe(5);
    expect(b!.adjustedPrefillBlocks).toBeCloseTo(17.5, 12);
  });

  it('takes the argmin, breaking ties by the smallest cached tree', () => {
    const picked = picker().pick(
      cycle({}, 160),
      [A, B, C].map((endpoint) => ({ endpoint, score: 0 })),
    );
    expect(picked).toHaveLength(3);
    const sizes: Record<string, number> = { a: 50, b: 7, c: 9 };
    const bySize = picker({}, (id) => sizes[id]!).pick(
      cycle({}, 160),
      [A, B, C].map((endpoint) => ({ endpoint, score: 0 })),
    );
    expect(bySize[0]).toBe('b');
    const withOverlap = picker().pick(
      cycle({ c: 6 }, 160),
      [A, B, C].map((endpoint) => ({ endpoint, score: 0 })),
    );
    expect(withOverlap[0]).toBe('c');
  });

  it('samples by softmax at temperature > 0, favouring low costs', () => {
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let seed = 0; seed < 400; seed++) {
      const p = picker({ temperature: 0.5 });
      const first = p.pick(
        cycle({ a: 10, b: 5 }, 160, undefined, seed),
        [A, B, C].map((endpoint) => ({ endpoint, score: 0 })),
      )[0]!;
      counts[first] = (counts[first] ?? 0) + 1;
    }
    expect(counts['a']!).toBeGreaterThan(counts['b']!);
    expect(counts['b']!).toBeGreaterThan(counts['c']!);
    expect(counts['c']!).toBeGreaterThan(0);
  });

  it('tracks a request from dispatch through first token to completion', () => {
    const p = picker();
    const c = cycle({ a: 6 }, 160, keys(0, 10));
    const order = p.pick(
      c,
      [A, B, C].map((endpoint) => ({ endpoint, score: 0 })),
    );
    expect(order[0]).toBe('a');
    const decision = {
      endpointId: 'a',
      state: { pluginState: new Map([['d', c.pluginState('d')]]) },
    } as never;
    p.onDispatch({ request: c.request, decision, nowMs: 0 });
    // Predicted prefill: 160 − 6 × 16 = 64 tokens; 10 blocks.
    expect(p.active.prefillTokens('a')).toBe(64);
    expect(p.active.blocks('a')).toBe(10);
    p.onFirstToken({ requestId: 'r', endpointId: 'a', nowMs: 1 });
    expect(p.active.prefillTokens('a')).toBe(0);
    expect(p.active.blocks('a')).toBe(10);
    p.onResponseComplete({ request: c.request, decision, endpointId: 'a', nowMs: 2, outcome: 'success' });
    expect(p.active.blocks('a')).toBe(0);
  });
});

describe('ActiveSequences', () => {
  it('shares blocks between requests and forgets departed workers', () => {
    const s = new ActiveSequences();
    s.add('r1', 'a', 10, keys(0, 4), 4);
    s.add('r2', 'a', 10, keys(0, 6), 6);
    expect(s.blocks('a')).toBe(6);
    expect(s.newBlocks('a', keys(0, 8), 8)).toBe(2);
    s.remove('r2');
    expect(s.blocks('a')).toBe(4);
    expect(s.prefillTokens('a')).toBe(10);
    s.retain(new Set(['b']));
    expect(s.blocks('a')).toBe(0);
  });
});
