import { describe, expect, it } from 'vitest';
import { MultiTenantTokenTree } from '../../src/scheduler/peers/multi-tenant-token-tree.ts';
import {
  SglangCacheAwarePicker,
  sglangCacheAwareParameters,
} from '../../src/scheduler/peers/sglang-cache-aware.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { createRandom } from '../../src/scheduler/prng.ts';
import { singleProfileHandlerPlugin } from '../../src/scheduler/profile-handlers/single-profile-handler.ts';
import type { ProfileHandler, SchedulingRequest } from '../../src/scheduler/types.ts';
import type { EndpointSnapshot } from '../../src/fleet/types.ts';
import { createInMemoryState } from '../../src/scheduler/state.ts';

function endpoint(id: string, inflight: number): EndpointSnapshot {
  return {
    info: { id, host: id, port: 8000, labels: {}, models: [] },
    healthy: true,
    metrics: null,
    inflight: { requests: inflight, tokens: 0 },
    servedModels: [],
  };
}

function req(tokenIds: number[], id = 'r'): SchedulingRequest {
  return {
    requestId: id,
    targetModel: 'm',
    promptText: '',
    promptTokenEstimate: tokenIds.length,
    tokenIds,
    headers: {},
  };
}

const seq = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
const all = () => true;

describe('multi-tenant token tree', () => {
  it('matches the longest inserted prefix, counting a partial edge', () => {
    const tree = new MultiTenantTokenTree();
    tree.insert(seq(0, 10), 'a', 1);
    expect(tree.prefixMatch(seq(0, 10), all)).toEqual({ matchedTokens: 10, tenant: 'a' });
    expect(tree.prefixMatch([...seq(0, 4), 99], all)).toEqual({ matchedTokens: 4, tenant: 'a' });
    expect(tree.prefixMatch([5, 6], all)).toEqual({ matchedTokens: 0, tenant: null });
  });

  it('splits edges and keeps per-tenant token counts exact', () => {
    const tree = new MultiTenantTokenTree();
    tree.insert(seq(0, 10), 'a', 1);
    tree.insert([...seq(0, 6), 50, 51], 'b', 2);
    expect(tree.tenantSize('a')).toBe(10);
    expect(tree.tenantSize('b')).toBe(8);
    tree.insert(seq(0, 10), 'a', 3); // nothing new for a
    expect(tree.tenantSize('a')).toBe(10);
    tree.insert(seq(0, 10), 'b', 4); // b now also owns the 4-token tail
    expect(tree.tenantSize('b')).toBe(12);
    expect(tree.nodeCount()).toBe(3);
  });

  it('prefers the sticky last tenant at the deepest node, among eligible tenants only', () => {
    const tree = new MultiTenantTokenTree();
    tree.insert(seq(0, 8), 'a', 1);
    tree.insert(seq(0, 8), 'b', 2);
    expect(tree.prefixMatch(seq(0, 8), all).tenant).toBe('b');
    expect(tree.prefixMatch(seq(0, 8), (t) => t === 'a').tenant).toBe('a');
    // Only `c` holds the deeper branch; when c is not eligible the walk stops above it, where c is
    // now the sticky last tenant, so the first eligible owner in insertion order (a) is taken.
    tree.insert([...seq(0, 8), 70, 71, 72], 'c', 3);
    expect(tree.prefixMatch([...seq(0, 8), 70, 71, 72], (t) => t !== 'c')).toEqual({
      matchedTokens: 8,
      tenant: 'a',
    });
    expect(tree.prefixMatch([...seq(0, 8), 70, 71, 72], all)).toEqual({ matchedTokens: 11, tenant: 'c' });
  });

  it("evicts a tenant's least recently used leaves until it is under the cap", () => {
    const tree = new MultiTenantTokenTree();
    tree.insert([...seq(0, 4), ...seq(100, 4)], 'a', 1); // branch X, old
    tree.insert([...seq(0, 4), ...seq(200, 4)], 'a', 5); // branch Y, recent
    tree.insert([...seq(0, 4), ...seq(100, 4)], 'b', 6); // b also holds X
    expect(tree.tenantSize('a')).toBe(12);
    tree.evictTenant('a', 8);
    expect(tree.tenantSize('a')).toBe(8);
    // a lost the old branch X but kept Y; b still has X.
    expect(tree.prefixMatch([...seq(0, 4), ...seq(100, 4)], (t) => t === 'a').matchedTokens).toBe(4);
    expect(tree.prefixMatch([...seq(0, 4), ...seq(200, 4)], (t) => t === 'a').matchedTokens).toBe(8);
    expect(tree.prefixMatch([...seq(0, 4), ...seq(100, 4)], (t) => t === 'b').matchedTokens).toBe(8);
    tree.evictTenant('a', 0);
    expect(tree.tenantSize('a')).toBe(0);
    expect(tree.prefixMatch(seq(0, 4), (t) => t === 'a').matchedTokens).toBe(0);
  });
});

describe('SGLang cache_aware decisions (peer-routers.md §1.2, CLI defaults)', () => {
  const picker = () => new SglangCacheAwarePicker('p', sglangCacheAwareParameters.parse({}));

  it('is imbalanced only when max − min > 64 AND max > 1.5 × min', () => {
    const p = picker();
    // 100 − 30 = 70 > 64 and 100 > 45: imbalanced → the min-load worker.
    expect(p.decide(req(seq(0, 10)), [endpoint('a', 100), endpoint('b', 30)]).branch).toBe('imbalanced');
    expect(p.decide(req(seq(0, 10)), [endpoint('a', 100), endpoint('b', 30)]).chosen).toBe('b');
    // 64 apart is not more than 64.
    expect(p.decide(req(seq(0, 10)), [endpoint('a', 64), endpoint('b', 0)]).branch).not.toBe('imbalanced');
    // 200 − 130 = 70 > 64 but 200 < 1.5 × 130 = 195? No: 200 > 195, imbalanced.
    expect(p.decide(req(seq(0, 10)), [endpoint('a', 200), endpoint('b', 130)]).branch).toBe('imbalanced');
    // 200 − 134 = 66 > 64 but 200 < 1.5 × 134 = 201: balanced.
    expect(p.decide(req(seq(0, 10)), [endpoint('a', 200), endpoint('b', 134)]).branch).not.toBe('imbalanced');
  });

  it('follows the tree when match rate > 0.3, else the least loaded worker', () => {
    const p = picker();
    p.tree.insert(seq(0, 30), 'b', 1);
    const fleet = [endpoint('a', 0), endpoint('b', 5)];
    // 4 of 10 tokens match (0.4 > 0.3): b, although it is busier.
    expect(p.decide(req([...seq(0, 4), ...seq(500, 6)]), fleet)).toEqual({
      chosen: 'b',
      branch: 'cache-hit',
      matchRate: 0.4,
    });
    // Exactly 0.3 is not above the threshold: least loaded.
    expect(p.decide(req([...seq(0, 3), ...seq(500, 7)]), fleet)).toMatchObject({
      chosen: 'a',
      branch: 'cache-miss',
    });
  });

  it('breaks min-load ties by processed count, then by order', () => {
    const p = picker();
    const fleet = [endpoint('a', 2), endpoint('b', 2), endpoint('c', 2)];
    expect(p.decide(req([1]), fleet).chosen).toBe('a');
    const scheduler = new Scheduler({
      profiles: [{ name: 'default', filters: [], scorers: [], picker: p }],
      profileHandler: singleProfileHandlerPlugin.create(
        {},
        {
          name: 'h',
          state: createInMemoryState(),
          lookup: () => undefined,
          pluginNames: () => [],
          warn: () => {},
        },
      ) as ProfileHandler,
      producers: [],
    });
    const first = scheduler.schedule(
      req([1], 'x'),
      { nowMs: 0, endpoints: fleet },
      { random: createRandom(1) },
    );
    expect(first.endpointId).toBe('a');
    scheduler.recordDispatch(req([1], 'x'), first, 0);
    // a has processed one request now: the next cache miss goes to b.
    expect(p.decide(req([2]), fleet).chosen).toBe('b');
    // The dispatch inserted the prompt under a: a later identical prompt matches a.
    expect(p.decide(req([1]), fleet)).toMatchObject({ chosen: 'a', branch: 'cache-hit' });
  });

  it('evicts at most every eviction interval, down to max_tree_size', () => {
    const p = new SglangCacheAwarePicker(
      'p',
      sglangCacheAwareParameters.parse({ maxTreeSize: 5, evictionIntervalSeconds: 10 }),
    );
    const dispatch = (tokens: number[], nowMs: number) =>
      p.onDispatch({
        request: req(tokens),
        decision: { endpointId: 'a' } as never,
        nowMs,
      });
    dispatch(seq(0, 8), 0);
    dispatch(seq(100, 8), 5_000);
    expect(p.tree.tenantSize('a')).toBe(16);
    dispatch(seq(200, 8), 10_000);
    expect(p.tree.tenantSize('a')).toBeLessThanOrEqual(5);
  });
});
