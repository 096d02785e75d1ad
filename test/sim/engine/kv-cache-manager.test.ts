import { describe, expect, it } from 'vitest';
import type { BlockStored } from '../../../src/kv-protocol/events.ts';
import { BlockPool } from '../../../src/sim/engine/block-pool.ts';
import { KvCacheManager } from '../../../src/sim/engine/kv-cache-manager.ts';
import { SimRequest } from '../../../src/sim/engine/sim-request.ts';
import { countingHasher, makeRequest, range, Recorder, sha256BlockHash } from './helpers.ts';

const BS = 4;

function setup(numBlocks = 32, enableCaching = true) {
  const hasher = countingHasher();
  const pool = new BlockPool({ numBlocks, blockSize: BS, recordEvents: true });
  const kv = new KvCacheManager(pool, { enableCaching, hashBlock: hasher.hashBlock });
  let seq = 0;
  const request = (prompt: number[], maxTokens = 4, options = {}) =>
    new SimRequest(makeRequest(`r${seq}`, prompt, maxTokens, options), new Recorder(), 0, ++seq, null);
  return { pool, kv, hasher, request };
}

/** Allocate and "compute" the whole prompt in one go, as a one-step prefill. */
function prefill(kv: KvCacheManager, r: SimRequest): number {
  const hits: number[] = [];
  const hitTokens = kv.findCachedPrefix(r, hits);
  expect(kv.allocateSlots(r, r.numTokens - hitTokens, hits)).toBe(true);
  r.numComputedTokens = r.numTokens;
  return hitTokens;
}

/** Sample one token and compute it, as a decode step would. */
function decode(kv: KvCacheManager, r: SimRequest): void {
  r.numOutputTokens++;
  expect(kv.allocateSlots(r, 1, [])).toBe(true);
  r.numComputedTokens++;
}

describe('KvCacheManager', () => {
  it('finds the longest cached prefix in whole blocks', () => {
    const { kv, request } = setup();
    const a = request(range(0, 20));
    expect(prefill(kv, a)).toBe(0);
    const b = request([...range(0, 9), 999, ...range(10, 10)]);
    const hits: number[] = [];
    // Blocks 0 and 1 match; block 2 holds the divergent token.
    expect(kv.findCachedPrefix(b, hits)).toBe(8);
    expect(hits).toEqual(a.kv.blocks.slice(0, 2));
  });

  it('leaves at least the last block to compute when the whole prompt is cached', () => {
    const { kv, request } = setup();
    prefill(kv, request(range(0, 16)));
    // Same 16-token prompt: 4 full blocks cached, but the hit stops at 3 (12 tokens < 16).
    expect(kv.findCachedPrefix(request(range(0, 16)), [])).toBe(12);
    // 17 tokens: 4 blocks can be used, 1 token is left to compute.
    expect(kv.findCachedPrefix(request(range(0, 17)), [])).toBe(16);
  });

  it('hashes each full block of a request exactly once', () => {
    const { kv, hasher, request } = setup();
    const a = request(range(0, 18), 10);
    kv.findCachedPrefix(a, []);
    // Nothing is cached: the lookup hashes block 0, misses, and stops there.
    expect(hasher.calls()).toBe(1);
    prefill(kv, a);
    expect(hasher.calls()).toBe(4);
    for (let i = 0; i < 9; i++) decode(kv, a);
    // 18 + 9 = 27 computed tokens = 6 full blocks, each hashed once.
    expect(a.kv.hashes).toHaveLength(6);
    expect(hasher.calls()).toBe(6);
    kv.free(a);
    a.numComputedTokens = 0;
    // Recompute after preemption: lookup and caching reuse the stored hashes.
    prefill(kv, a);
    expect(hasher.calls()).toBe(6);
  });

  it('caches blocks filled by generated tokens, with the generated ids in the event', () => {
    const { kv, pool, request } = setup();
    const a = request(range(0, 8), 8, { outputTokenIds: range(500, 8) });
    prefill(kv, a);
    pool.takeEvents();
    for (let i = 0; i < 4; i++) decode(kv, a);
    const stored = pool.takeEvents().filter((e): e is BlockStored => e.type === 'BlockStored');
    expect(stored).toHaveLength(1);
    expect(stored[0]!.tokenIds).toEqual([500, 501, 502, 503]);
    expect(stored[0]!.parentBlockHash).toBe(a.kv.hashes[1]);
    // A follow-up whose prompt is prompt + answer hits the answer block too.
    const b = request([...range(0, 8), ...range(500, 4), 42]);
    expect(kv.findCachedPrefix(b, [])).toBe(12);
  });

  it('puts the LoRA name on every block and the cache salt on block 0 only', () => {
    const { kv, pool, request } = setup();
    const a = request(range(0, 12), 1, { loraName: 'sql', cacheSalt: 'tenant-1' });
    prefill(kv, a);
    const [stored] = pool.takeEvents() as BlockStored[];
    expect(stored!.extraKeys).toEqual([['sql', 'tenant-1'], ['sql'], ['sql']]);
    expect(a.kv.hashes[0]).toEqual(sha256BlockHash(null, range(0, 4), ['sql', 'tenant-1']));
    // Another salt or adapter, or none, shares nothing with it.
    expect(
      kv.findCachedPrefix(request(range(0, 13), 1, { loraName: 'sql', cacheSalt: 'tenant-2' }), []),
    ).toBe(0);
    expect(
      kv.findCachedPrefix(request(range(0, 13), 1, { loraName: 'chat', cacheSalt: 'tenant-1' }), []),
    ).toBe(0);
    expect(kv.findCachedPrefix(request(range(0, 13)), [])).toBe(0);
    expect(
      kv.findCachedPrefix(request(range(0, 13), 1, { loraName: 'sql', cacheSalt: 'tenant-1' }), []),
    ).toBe(12);
  });

  it('allocates all or nothing, counting hits that sit in the free queue', () => {
    const { kv, pool, request } = setup(6);
    const a = request(range(0, 16));
    prefill(kv, a); // 4 blocks
    kv.free(a);
    const holder = request(range(100, 8));
    prefill(kv, holder); // takes the 2 never-used blocks
    expect(pool.numFreeBlocks).toBe(4);
    // 3 hit blocks (all free) + 2 new blocks = 5 > 4 free: refused, nothing changes.
    const b = request([...range(0, 12), ...range(200, 8)]);
    const hits: number[] = [];
    expect(kv.findCachedPrefix(b, hits)).toBe(12);
    expect(kv.allocateSlots(b, 8, hits)).toBe(false);
    expect(pool.numFreeBlocks).toBe(4);
    expect(b.kv.blocks).toEqual([]);
    kv.free(holder);
    expect(kv.allocateSlots(b, 8, hits)).toBe(true);
    expect(b.kv.blocks.slice(0, 3)).toEqual(hits);
    expect(b.kv.numCachedBlocks).toBe(5);
  });

  it('does nothing cache-related when prefix caching is off', () => {
    const { kv, pool, hasher, request } = setup(8, false);
    const a = request(range(0, 16));
    prefill(kv, a);
    kv.free(a);
    expect(kv.findCachedPrefix(request(range(0, 17)), [])).toBe(0);
    expect(hasher.calls()).toBe(0);
    expect(pool.numCachedBlocks).toBe(0);
    expect(pool.hasEvents).toBe(false);
  });
});
