import { describe, expect, it } from 'vitest';
import { createEngine } from '../../../src/sim/engine/engine.ts';
import { VirtualClock } from '../../../src/sim/engine/virtual-clock.ts';
import { harness, makeRequest, range, Recorder, sha256BlockHash, tinyConfig } from './helpers.ts';

describe('SimEngine submit and lifecycle', () => {
  it('runs one request step by step with the profile timing', () => {
    const { clock, engine, submit } = harness();
    const req = makeRequest('a', range(0, 10), 3);
    const rec = submit(req);
    clock.runUntilIdle();
    expect(rec.tokens).toEqual(req.outputTokenIds.slice(0, 3));
    expect(rec.indexes).toEqual([0, 1, 2]);
    // tiny-test: a=0.01, b=0.001/prefill token, c=0.001/decode seq, d=1e-5/context token.
    const t0 = 0.01 + 10 * 0.001 + 10 * 1e-5;
    const t1 = t0 + 0.01 + 0.001 + 11 * 1e-5;
    const t2 = t1 + 0.01 + 0.001 + 12 * 1e-5;
    expect(rec.times[0]).toBeCloseTo(t0, 12);
    expect(rec.times[1]).toBeCloseTo(t1, 12);
    expect(rec.times[2]).toBeCloseTo(t2, 12);
    expect(rec.finishCalls).toBe(1);
    expect(rec.result).toMatchObject({
      promptTokens: 10,
      cachedTokens: 0,
      completionTokens: 3,
      finishReason: 'length',
      arrivalTime: 0,
      firstScheduledTime: 0,
      preemptions: 0,
    });
    expect(rec.result!.finishTime).toBeCloseTo(t2, 12);
    expect(engine.stats()).toMatchObject({
      running: 0,
      waiting: 0,
      kvCacheUsage: 0,
      promptTokensTotal: 10,
      generationTokensTotal: 3,
      stepsTotal: 3,
    });
  });

  it('holds no timer while idle and starts stepping on submit', () => {
    const { clock, engine, submit } = harness();
    expect(clock.pending).toBe(0);
    submit(makeRequest('a', range(0, 4), 2));
    expect(clock.pending).toBe(1);
    clock.runUntilIdle();
    expect(clock.pending).toBe(0);
    expect(engine.stats().stepsTotal).toBe(2);
  });

  it('rejects prompts that do not fit the model length', () => {
    const { engine } = harness();
    const rec = new Recorder();
    const tooLong = engine.submit(makeRequest('x', range(0, 120), 9), rec);
    expect(tooLong).toMatchObject({ ok: false, reason: 'too_long' });
    expect(engine.submit(makeRequest('y', range(0, 120), 8), rec).ok).toBe(true);
    // A P/D prefill leg only generates one token.
    expect(engine.submit(makeRequest('z', range(0, 127), 50, { remoteDecode: true }), rec).ok).toBe(true);
  });

  it('bounds the waiting queue', () => {
    const { clock, engine } = harness({ maxWaitingRequests: 2 });
    const rec = new Recorder();
    expect(engine.submit(makeRequest('a', range(0, 4), 1), rec).ok).toBe(true);
    expect(engine.submit(makeRequest('b', range(0, 4), 1), rec).ok).toBe(true);
    expect(engine.submit(makeRequest('c', range(0, 4), 1), rec)).toMatchObject({
      ok: false,
      reason: 'queue_full',
    });
    expect(engine.stats().waiting).toBe(2);
    clock.step(); // the first step admits both
    expect(engine.stats()).toMatchObject({ waiting: 0, running: 2 });
    expect(engine.submit(makeRequest('c', range(0, 4), 1), rec).ok).toBe(true);
  });

  it('rejects LoRA requests when LoRA is disabled, and malformed requests', () => {
    const { engine } = harness({ maxLoras: 0 });
    const rec = new Recorder();
    expect(engine.submit(makeRequest('a', range(0, 4), 1, { loraName: 'x' }), rec)).toMatchObject({
      ok: false,
      reason: 'lora_unknown',
    });
    expect(() => engine.submit(makeRequest('e', [], 1), rec)).toThrow(/empty prompt/);
    expect(() => engine.submit(makeRequest('o', range(0, 4), 3, { outputTokenIds: [1] }), rec)).toThrow(
      /fewer/,
    );
    engine.submit(makeRequest('d', range(0, 4), 1), rec);
    expect(() => engine.submit(makeRequest('d', range(0, 4), 1), rec)).toThrow(/already/);
  });

  it('refuses a config whose KV cache cannot hold one max-length sequence', () => {
    expect(() =>
      createEngine(tinyConfig({ numGpuBlocks: 8 }), new VirtualClock(), { hashBlock: sha256BlockHash }),
    ).toThrow(/larger than the KV cache/);
  });

  it('admits higher priority first among waiting requests', () => {
    const { clock, submit } = harness({ maxNumSeqs: 1 });
    const low = submit(makeRequest('low', range(0, 4), 2));
    const high = submit(makeRequest('high', range(100, 4), 2, { priority: 5 }));
    clock.runUntilIdle();
    expect(high.result!.firstScheduledTime).toBe(0);
    expect(low.result!.firstScheduledTime).toBeGreaterThanOrEqual(high.result!.finishTime);
  });

  it('aborts waiting and running requests, freeing their blocks', () => {
    const { clock, engine, submit } = harness({ maxNumSeqs: 1 });
    const running = submit(makeRequest('run', range(0, 8), 20));
    const queued = submit(makeRequest('queued', range(100, 8), 5));
    const other = submit(makeRequest('other', range(200, 8), 3));
    clock.step(); // start: 'run' admitted
    clock.step(); // first step ends: token 0
    clock.step(); // token 1
    expect(running.tokens).toHaveLength(2);
    expect(engine.abort('queued')).toBe(true);
    expect(queued.result).toMatchObject({ finishReason: 'abort', completionTokens: 0 });
    expect(queued.result!.firstTokenTime).toBeNaN();
    expect(engine.abort('run')).toBe(true); // mid-step
    expect(engine.abort('run')).toBe(false);
    expect(engine.abort('nope')).toBe(false);
    expect(engine.internals().usedBlocks).toBe(0);
    clock.runUntilIdle();
    expect(running.tokens).toHaveLength(2);
    expect(running.finishCalls).toBe(1);
    expect(running.result).toMatchObject({ finishReason: 'abort', completionTokens: 2 });
    expect(other.result).toMatchObject({ finishReason: 'length', completionTokens: 3 });
    expect(engine.internals().usedBlocks).toBe(0);
  });

  it('abortAll finishes every request once and frees every block', () => {
    const { clock, engine, submit } = harness({ maxNumSeqs: 2 });
    const recs = [0, 1, 2, 3].map((i) => submit(makeRequest(`r${i}`, range(i * 100, 12), 10)));
    clock.step();
    clock.step();
    expect(engine.abortAll()).toBe(4);
    expect(engine.stats()).toMatchObject({ running: 0, waiting: 0 });
    expect(engine.internals().usedBlocks).toBe(0);
    clock.runUntilIdle();
    for (const rec of recs) {
      expect(rec.finishCalls).toBe(1);
      expect(rec.result!.finishReason).toBe('abort');
    }
    expect(engine.abortAll()).toBe(0);
  });

  it('lets observers submit and abort from callbacks', () => {
    const { clock, engine, submit } = harness();
    const victim = submit(makeRequest('victim', range(100, 4), 50));
    const followUp = new Recorder();
    const first = new Recorder();
    first.onToken = (tokenId, index, time) => {
      Recorder.prototype.onToken.call(first, tokenId, index, time);
      if (index === 1) {
        engine.abort('victim');
        engine.submit(makeRequest('follow', range(200, 4), 2), followUp);
      }
    };
    engine.submit(makeRequest('first', range(0, 4), 3), first);
    clock.runUntilIdle();
    expect(victim.result!.finishReason).toBe('abort');
    expect(first.result!.completionTokens).toBe(3);
    expect(followUp.result!.completionTokens).toBe(2);
    expect(engine.internals().usedBlocks).toBe(0);
  });

  it('shares one virtual clock between engines without interference', () => {
    const solo = harness();
    const soloRec = solo.submit(makeRequest('a', range(0, 30), 5));
    solo.clock.runUntilIdle();

    const clock = new VirtualClock();
    const engines = [0, 1, 2].map(() => createEngine(tinyConfig(), clock, { hashBlock: sha256BlockHash }));
    const recs = engines.map((e, i) => {
      const r = new Recorder();
      e.submit(makeRequest('a', range(0, 30), 5 + i), r);
      return r;
    });
    clock.runUntilIdle();
    expect(recs[0]!.times).toEqual(soloRec.times);
    expect(recs[2]!.tokens).toHaveLength(7);
  });
});
