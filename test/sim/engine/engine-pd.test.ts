import { describe, expect, it } from 'vitest';
import type { BlockStored } from '../../../src/kv-protocol/events.ts';
import { harness, makeRequest, range } from './helpers.ts';

// tiny-test: kvTransferPerToken = 1e-4 s.
describe('SimEngine P/D disaggregation', () => {
  it('prefill leg (remoteDecode): one token, then blocks stay pinned while the decode side pulls them', () => {
    const { clock, engine, submit } = harness();
    const rec = submit(makeRequest('p', range(0, 40), 10, { remoteDecode: true }));
    while (rec.result === undefined) clock.step();
    expect(rec.tokens).toHaveLength(1);
    expect(rec.result).toMatchObject({ completionTokens: 1, finishReason: 'length' });
    expect(engine.internals()).toMatchObject({ pinnedRequests: 1, usedBlocks: 10 });
    expect(engine.stats().running).toBe(0);
    clock.runUntilIdle();
    expect(engine.internals()).toMatchObject({ pinnedRequests: 0, usedBlocks: 0 });
    // The prompt stays cached for later hits.
    const again = submit(makeRequest('again', range(0, 41), 1));
    clock.runUntilIdle();
    expect(again.result!.cachedTokens).toBe(40);
  });

  it('decode leg (remotePrefill): pays the KV transfer instead of the prefill compute', () => {
    const { clock, engine, log, submit } = harness();
    const rec = submit(makeRequest('d', range(0, 100), 3, { remotePrefill: true }));
    clock.runUntil(0.005);
    expect(engine.stats()).toMatchObject({ waiting: 1, running: 0 });
    expect(engine.internals().usedBlocks).toBe(25);
    clock.runUntilIdle();
    // 100 tokens x 1e-4 s transfer, then one step computing the last prompt token.
    const transfer = 100 * 1e-4;
    const firstStep = 0.01 + 0.001 + 100 * 1e-5;
    expect(rec.result!.firstTokenTime).toBeCloseTo(transfer + firstStep, 12);
    expect(rec.result!.firstScheduledTime).toBe(0);
    expect(rec.tokens).toHaveLength(3);
    // The landed KV is cached and announced: 24 blocks (99 tokens) on arrival, block 25 with the last token.
    const stored = log.all().filter((e): e is BlockStored => e.type === 'BlockStored');
    expect(stored.map((e) => e.blockHashes.length)).toEqual([24, 1]);
    expect(engine.internals().usedBlocks).toBe(0);
  });

  it('decode leg only pulls what it does not hold locally', () => {
    const { clock, submitAt } = harness();
    submitAt(0, makeRequest('warm', range(0, 48), 1));
    const rec = submitAt(1, makeRequest('d', range(0, 100), 2, { remotePrefill: true }));
    clock.runUntilIdle();
    expect(rec.result!.cachedTokens).toBe(48);
    const firstStep = 0.01 + 0.001 + 100 * 1e-5;
    expect(rec.result!.firstTokenTime - 1).toBeCloseTo(52 * 1e-4 + firstStep, 12);
  });

  it('is much faster to first token than a cold local prefill of the same prompt', () => {
    const { clock, submitAt } = harness();
    const remote = submitAt(0, makeRequest('r', range(0, 100), 1, { remotePrefill: true }));
    const local = submitAt(1, makeRequest('l', range(1000, 100), 1));
    clock.runUntilIdle();
    expect(remote.ttft).toBeLessThan(local.ttft / 4);
  });

  it('an aborted transfer frees its blocks and never decodes', () => {
    const { clock, engine, submit } = harness();
    const rec = submit(makeRequest('d', range(0, 100), 3, { remotePrefill: true }));
    clock.runUntil(0.005);
    expect(engine.abort('d')).toBe(true);
    expect(engine.internals().usedBlocks).toBe(0);
    clock.runUntilIdle();
    expect(rec.tokens).toHaveLength(0);
    expect(rec.finishCalls).toBe(1);
    expect(rec.result!.finishReason).toBe('abort');
  });
});
