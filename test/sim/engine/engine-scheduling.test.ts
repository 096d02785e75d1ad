import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import type { Recorder } from './helpers.ts';
import { harness, makeRequest, range } from './helpers.ts';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

describe('SimEngine scheduling', () => {
  it('chunks a cold prefill across steps shared with running decodes', () => {
    const { clock, submitAt } = harness();
    const decoders = [0, 1, 2].map((i) => submitAt(0, makeRequest(`d${i}`, range(i * 100, 4), 40)));
    const long = submitAt(0.2, makeRequest('long', range(5000, 100), 2));
    clock.runUntilIdle();

    const start = long.result!.firstScheduledTime;
    const end = long.result!.firstTokenTime;
    // Budget 32, 3 decodes per step: 29-token chunks, so the 100-token prompt spans 4 steps.
    for (const d of decoders) {
      const gapsBefore = d.gaps().filter((_, i) => d.times[i + 1]! <= start);
      const during = d.times.filter((t) => t > start && t <= end);
      const gapsDuring = d.gaps().filter((_, i) => d.times[i]! >= start && d.times[i + 1]! <= end);
      expect(during.length).toBe(4); // one token per step: never starved
      expect(gapsBefore.length).toBeGreaterThan(5);
      expect(Math.min(...gapsDuring)).toBeGreaterThan(2 * median(gapsBefore));
      expect(d.result!.completionTokens).toBe(40);
    }
  });

  it('preempts the most recently admitted request when KV runs out, and still completes it', () => {
    // 16 blocks of 4 = 64 tokens; three requests growing to 52 tokens each cannot coexist.
    const { clock, engine, log, submit } = harness({ numGpuBlocks: 16, maxModelLen: 64 });
    const reqs = [0, 1, 2].map((i) => makeRequest(`r${i}`, range(i * 100, 12), 40));
    const recs = reqs.map((r) => submit(r));
    let maxUsage = 0;
    for (const rec of recs) {
      const onToken = rec.onToken.bind(rec);
      rec.onToken = (t, i, time) => {
        onToken(t, i, time);
        maxUsage = Math.max(maxUsage, engine.stats().kvCacheUsage);
      };
    }
    clock.runUntilIdle();
    const stats = engine.stats();
    expect(stats.preemptionsTotal).toBeGreaterThan(0);
    expect(recs.reduce((n, r) => n + r.result!.preemptions, 0)).toBe(stats.preemptionsTotal);
    expect(recs[0]!.result!.preemptions).toBe(0);
    expect(recs[2]!.result!.preemptions).toBeGreaterThan(0);
    recs.forEach((rec, i) => {
      expect(rec.tokens).toEqual(reqs[i]!.outputTokenIds);
      expect(rec.indexes).toEqual(range(0, 40));
      expect(rec.result!.finishReason).toBe('length');
    });
    expect(maxUsage).toBeLessThanOrEqual(1);
    expect(engine.internals().usedBlocks).toBe(0);
    expect(log.problems).toEqual([]);
    // Preemption statistics stay out of the prefix-cache counters, as in vLLM.
    expect(stats.prefixCacheQueries).toBe(36);
  });

  it('keeps a request that cannot get KV at the head of the queue', () => {
    // A budget large enough to take every prompt whole: only KV can hold requests back.
    const { clock, engine, submit } = harness({
      numGpuBlocks: 16,
      maxModelLen: 64,
      maxNumBatchedTokens: 128,
    });
    const big = submit(makeRequest('big', range(0, 60), 4)); // 15 blocks, growing to 16
    const blocked = submit(makeRequest('blocked', range(100, 30), 1)); // needs 8 blocks
    const small = submit(makeRequest('small', range(200, 4), 1)); // 1 block would fit, but waits behind
    clock.runUntilIdle();
    expect(blocked.result!.firstScheduledTime).toBeGreaterThanOrEqual(big.result!.finishTime);
    expect(small.result!.firstScheduledTime).toBeGreaterThanOrEqual(big.result!.finishTime);
    expect(big.result!.preemptions).toBe(0);
    // vLLM counts a lookup each time the blocked head is retried.
    expect(engine.stats().prefixCacheQueries).toBeGreaterThan(60 + 30 + 4);
  });

  it('runs at most maxLoras distinct adapters per step; other requests keep going', () => {
    const { clock, engine, submit } = harness({ maxLoras: 1 });
    const recs = {
      a1: submit(makeRequest('a1', range(0, 8), 5, { loraName: 'a' })),
      b1: submit(makeRequest('b1', range(100, 8), 5, { loraName: 'b' })),
      base: submit(makeRequest('base', range(200, 8), 5)),
      a2: submit(makeRequest('a2', range(300, 8), 5, { loraName: 'a' })),
    };
    const seen: string[][] = [];
    const waiting: string[][] = [];
    for (const rec of Object.values(recs)) {
      const onToken = rec.onToken.bind(rec);
      rec.onToken = (t, i, time) => {
        onToken(t, i, time);
        seen.push([...engine.stats().runningLoras]);
        waiting.push([...engine.stats().waitingLoras]);
      };
    }
    clock.runUntilIdle();
    expect(recs.a1.result!.firstScheduledTime).toBe(0);
    expect(recs.a2.result!.firstScheduledTime).toBe(0);
    expect(recs.base.result!.firstScheduledTime).toBe(0);
    expect(recs.b1.result!.firstScheduledTime).toBeGreaterThanOrEqual(
      Math.max(recs.a1.result!.finishTime, recs.a2.result!.finishTime),
    );
    for (const loras of seen) expect(loras.length).toBeLessThanOrEqual(1);
    expect(waiting[0]).toEqual(['b']);
    expect(Object.values(recs).every((r) => r.result!.completionTokens === 5)).toBe(true);
  });

  it('is deterministic: same inputs, same events and timings', () => {
    const run = () => {
      const { clock, log, engine, submitAt } = harness({ numGpuBlocks: 24, maxModelLen: 96 });
      const recs: Recorder[] = [];
      for (let i = 0; i < 30; i++) {
        const prefix = range((i % 4) * 1000, 16 + (i % 3) * 8);
        const prompt = [...prefix, ...range(50_000 + i * 10, 3 + (i % 5))];
        recs.push(
          submitAt(
            i * 0.013,
            makeRequest(`q${i}`, prompt, 3 + (i % 7), { outputTokenIds: range(i * 100, 10) }),
          ),
        );
      }
      clock.setTimer(0.1, () => engine.abort('q5'));
      clock.runUntilIdle();
      const events = log.batches.map((b) => ({
        time: b.time,
        events: b.events.map((e) =>
          e.type === 'AllBlocksCleared'
            ? e.type
            : `${e.type}:${e.blockHashes.map((h) => Buffer.from(h as Uint8Array).toString('hex')).join(',')}`,
        ),
      }));
      return {
        events,
        times: recs.map((r) => r.times),
        results: recs.map((r) => r.result),
        stats: engine.stats(),
      };
    };
    const first = run();
    const second = run();
    expect(first.events.length).toBeGreaterThan(10);
    expect(second).toEqual(first);
  });
});
