import { describe, expect, it } from 'vitest';
import type { BlockRemoved, BlockStored } from '../../../src/kv-protocol/events.ts';
import { harness, hex, makeRequest, range } from './helpers.ts';

function storedEvents(events: readonly { type: string }[]): BlockStored[] {
  return events.filter((e): e is BlockStored => e.type === 'BlockStored');
}

describe('SimEngine prefix cache', () => {
  it('TTFT grows with uncached prompt tokens', () => {
    const { clock, submitAt } = harness();
    const lengths = [4, 16, 40, 80, 120];
    const recs = lengths.map((n, i) => submitAt(i * 10, makeRequest(`r${n}`, range(i * 1000, n), 1)));
    clock.runUntilIdle();
    const ttfts = recs.map((r) => r.ttft);
    for (let i = 1; i < ttfts.length; i++) expect(ttfts[i]).toBeGreaterThan(ttfts[i - 1]!);
  });

  it('TTFT falls with prefix hits, and the hit is reported in whole blocks', () => {
    const { clock, engine, submitAt } = harness();
    const system = range(0, 64);
    const warm = submitAt(0, makeRequest('warm', system, 1));
    const hit = submitAt(10, makeRequest('hit', [...system, 900, 901, 902, 903], 1));
    const cold = submitAt(20, makeRequest('cold', range(5000, 68), 1));
    clock.runUntilIdle();
    expect(warm.result!.cachedTokens).toBe(0);
    expect(hit.result!.cachedTokens).toBe(64);
    expect(cold.result!.cachedTokens).toBe(0);
    expect(hit.ttft).toBeLessThan(cold.ttft / 4);
    const stats = engine.stats();
    expect(stats.prefixCacheQueries).toBe(64 + 68 + 68);
    expect(stats.prefixCacheHits).toBe(64);
  });

  it('never reports a whole prompt as cached: the last block is recomputed', () => {
    const { clock, submitAt } = harness();
    const prompt = range(0, 32);
    submitAt(0, makeRequest('a', prompt, 1));
    const again = submitAt(10, makeRequest('b', prompt, 1));
    clock.runUntilIdle();
    expect(again.result!.cachedTokens).toBe(28);
  });

  it('caches blocks of generated tokens so a follow-up turn hits the answer', () => {
    const { clock, submitAt } = harness();
    const prompt = range(0, 16);
    const answer = range(700, 9);
    const turn1 = submitAt(0, makeRequest('t1', prompt, 9, { outputTokenIds: answer }));
    // 16 prompt + 8 fed-back answer tokens have KV (the 9th is sampled, never computed): 6 blocks.
    const turn2 = submitAt(10, makeRequest('t2', [...prompt, ...answer, 5, 6, 7], 1));
    clock.runUntilIdle();
    expect(turn1.tokens).toEqual(answer);
    expect(turn2.result!.cachedTokens).toBe(24);
  });

  it('announces stored blocks chained to their parents and removals on eviction', () => {
    // 16 blocks of 4: small enough that the second wave evicts the first.
    const { clock, engine, log, submitAt } = harness({ numGpuBlocks: 16, maxModelLen: 64 });
    for (let i = 0; i < 6; i++) submitAt(i * 0.5, makeRequest(`a${i}`, range((i % 3) * 100, 20 + i), 6));
    clock.runUntilIdle();
    expect(log.problems).toEqual([]);
    expect(log.removedCount).toBeGreaterThan(0);
    expect(log.storedCount - log.removedCount).toBe(engine.internals().cachedBlocks);
    expect(log.liveBlocks).toBe(engine.internals().cachedBlocks);
    // Each BlockStored run continues from its parent: block 0 has none, later runs name the
    // previous block of the same request.
    for (const e of storedEvents(log.all())) expect(e.extraKeys).toHaveLength(e.blockHashes.length);
    // One delivery per step that produced events, at step boundaries.
    expect(log.batches.length).toBeLessThanOrEqual(engine.stats().stepsTotal);
  });

  it('evicts the tail of a freed request before its head, and older requests before newer', () => {
    const { clock, log, submitAt } = harness({ numGpuBlocks: 16, maxModelLen: 64 });
    submitAt(0, makeRequest('A', range(0, 16), 1));
    submitAt(1, makeRequest('B', range(100, 16), 1));
    clock.runUntilIdle();
    const [storedA, storedB] = storedEvents(log.all());
    const hashesA = storedA!.blockHashes.map((h) => hex(h as Uint8Array));
    expect(hashesA).toHaveLength(4);
    expect(storedB!.blockHashes).toHaveLength(4);
    const before = log.batches.length;

    // 10 new blocks: the 8 never-used ones, then A's last two blocks (tail first).
    submitAt(2, makeRequest('C', range(1000, 40), 1));
    clock.runUntilIdle();
    const removed = log.batches
      .slice(before)
      .flatMap((b) => b.events)
      .filter((e): e is BlockRemoved => e.type === 'BlockRemoved')
      .map((e) => hex(e.blockHashes[0] as Uint8Array));
    expect(removed).toEqual([hashesA[3], hashesA[2]]);

    // What a router's index now holds: A's head and all of B.
    const live = [...log.stored.keys()];
    expect(live).toEqual(expect.arrayContaining([hashesA[0], hashesA[1]]));
    expect(live).not.toContain(hashesA[2]);
    expect(live).not.toContain(hashesA[3]);

    // Next victims: A's head (freed before B), then B tail first; C's blocks, freed last, go last.
    const mark = log.batches.length;
    submitAt(3, makeRequest('D', range(2000, 12), 1)); // 3 blocks
    clock.runUntilIdle();
    const hashesB = storedB!.blockHashes.map((h) => hex(h as Uint8Array));
    const removedNext = log.batches
      .slice(mark)
      .flatMap((b) => b.events)
      .filter((e): e is BlockRemoved => e.type === 'BlockRemoved')
      .map((e) => hex(e.blockHashes[0] as Uint8Array));
    expect(removedNext).toEqual([hashesA[1], hashesA[0], hashesB[3]]);
  });

  it('stores an identical block twice when a request must recompute a cached last block', () => {
    const { clock, engine, log, submit } = harness();
    submit(makeRequest('x', range(0, 8), 2));
    // Scheduled in the same step, y already hits x's block 0 (blocks are cached when scheduled,
    // as in vLLM) but recomputes block 1 into a second physical block with the same hash.
    const y = submit(makeRequest('y', range(0, 8), 2));
    clock.runUntilIdle();
    const stored = storedEvents(log.all());
    expect(stored).toHaveLength(2);
    expect(y.result!.cachedTokens).toBe(4);
    expect(stored[1]!.blockHashes).toEqual([stored[0]!.blockHashes[1]]);
    expect(stored[1]!.parentBlockHash).toEqual(stored[0]!.blockHashes[0]);
    expect(engine.internals().cachedBlocks).toBe(3);
    expect(log.liveBlocks).toBe(3);
    expect(log.stored.get(hex(stored[1]!.blockHashes[0] as Uint8Array))).toBe(2);
  });

  it('resets the prefix cache only when idle, announcing AllBlocksCleared at once', () => {
    const { clock, engine, log, submit } = harness();
    let duringRun: boolean | undefined;
    const rec = submit(makeRequest('a', range(0, 20), 3));
    rec.onToken = (tokenId, index, time) => {
      if (index === 0) duringRun = engine.resetPrefixCache();
      void tokenId;
      void time;
    };
    clock.runUntilIdle();
    expect(duringRun).toBe(false);
    expect(engine.internals().cachedBlocks).toBeGreaterThan(0);
    clock.runUntil(clock.now() + 1);
    expect(engine.resetPrefixCache()).toBe(true);
    const last = log.batches.at(-1)!;
    expect(last.events).toEqual([{ type: 'AllBlocksCleared' }]);
    expect(last.time).toBe(clock.now());
    expect(engine.internals()).toMatchObject({ cachedBlocks: 0, usedBlocks: 0, freeBlocks: 64 });
    expect(log.liveBlocks).toBe(0);
  });

  it('computes each block hash once per request', () => {
    const { clock, engine, hasher, submitAt } = harness();
    // 40-token prompt + 10 generated (9 fed back): 49 tokens with KV = 12 full blocks.
    submitAt(0, makeRequest('a', range(0, 40), 10));
    clock.runUntilIdle();
    expect(hasher.calls()).toBe(12);
    expect(engine.internals().hashCalls).toBe(12);
  });

  it('works with prefix caching disabled', () => {
    const { clock, engine, log, hasher, submitAt } = harness({ enablePrefixCaching: false });
    submitAt(0, makeRequest('a', range(0, 40), 2));
    const b = submitAt(1, makeRequest('b', range(0, 40), 2));
    clock.runUntilIdle();
    expect(b.result!.cachedTokens).toBe(0);
    expect(hasher.calls()).toBe(0);
    expect(log.batches).toHaveLength(0);
    expect(engine.stats().prefixCacheQueries).toBe(0);
  });
});
