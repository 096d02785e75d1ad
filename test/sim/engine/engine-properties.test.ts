import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EngineRequest } from '../../../src/sim/engine/types.ts';
import type { Recorder } from './helpers.ts';
import { harness, makeRequest, range } from './helpers.ts';

const BS = 4;
const MAX_LEN = 64;

const requestArb = fc.record({
  family: fc.nat(3),
  prefixLen: fc.integer({ min: 0, max: 32 }),
  suffixLen: fc.integer({ min: 1, max: 16 }),
  maxTokens: fc.integer({ min: 1, max: 20 }),
  followUp: fc.option(fc.nat(30), { freq: 3 }),
  lora: fc.constantFrom(null, null, null, 'a', 'b'),
  salt: fc.constantFrom(null, null, null, 's'),
  pd: fc.constantFrom('none', 'none', 'none', 'none', 'remoteDecode', 'remotePrefill'),
  priority: fc.constantFrom(0, 0, 0, 1),
  arrival: fc.integer({ min: 0, max: 500 }),
  abortAfter: fc.option(fc.integer({ min: 0, max: 300 }), { freq: 4 }),
});

const configArb = fc.record({
  numGpuBlocks: fc.integer({ min: MAX_LEN / BS, max: 40 }),
  maxNumSeqs: fc.integer({ min: 1, max: 8 }),
  maxNumBatchedTokens: fc.integer({ min: 4, max: 48 }),
  maxLoras: fc.integer({ min: 1, max: 2 }),
  enablePrefixCaching: fc.constantFrom(true, true, true, false),
});

type RequestSpec = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;
type ConfigSpec = typeof configArb extends fc.Arbitrary<infer T> ? T : never;

const spec = (overrides: Partial<RequestSpec>): RequestSpec => ({
  family: 0,
  prefixLen: 0,
  suffixLen: 1,
  maxTokens: 1,
  followUp: null,
  lora: null,
  salt: null,
  pd: 'none',
  priority: 0,
  arrival: 0,
  abortAfter: null,
  ...overrides,
});

/** Workloads that once hung the engine (found by this property). */
const regressions: [ConfigSpec, RequestSpec[]][] = [
  // A landed P/D decode leg holds its blocks while waiting; a request it starves kept
  // preempting itself back ahead of it.
  [
    { numGpuBlocks: 16, maxNumSeqs: 1, maxNumBatchedTokens: 4, maxLoras: 1, enablePrefixCaching: true },
    [
      spec({ prefixLen: 16, suffixLen: 13 }),
      spec({ suffixLen: 3, followUp: 0, pd: 'remotePrefill' }),
      spec({ suffixLen: 10, maxTokens: 20 }),
      spec({}),
    ],
  ],
  // With priorities the victim can be the request itself at the head of the running list: the
  // pass schedules nothing while higher-priority work is still running.
  [
    { numGpuBlocks: 18, maxNumSeqs: 2, maxNumBatchedTokens: 4, maxLoras: 1, enablePrefixCaching: true },
    [
      spec({ prefixLen: 1, maxTokens: 9, priority: 1, arrival: 139 }),
      spec({}),
      spec({ prefixLen: 30, suffixLen: 2, maxTokens: 7, priority: 1 }),
      spec({ suffixLen: 13, maxTokens: 10, followUp: 20 }),
      spec({ priority: 1 }),
    ],
  ],
];

describe('SimEngine invariants over random workloads', () => {
  it('finishes every request exactly once, leaks no block and keeps events consistent with the pool', () => {
    fc.assert(
      fc.property(configArb, fc.array(requestArb, { minLength: 1, maxLength: 25 }), (config, specs) => {
        const { clock, engine, log, submitAt } = harness({ ...config, maxModelLen: MAX_LEN });
        const requests: EngineRequest[] = [];
        const recs: Recorder[] = [];
        let maxRunning = 0;
        specs.forEach((s, i) => {
          let prompt = [...range(s.family * 1000, s.prefixLen), ...range(100_000 + i * 100, s.suffixLen)];
          const earlier = s.followUp === null ? undefined : requests[s.followUp % Math.max(1, i)];
          if (earlier !== undefined) {
            // Next turn of an earlier conversation: its prompt, its answer, a new question.
            prompt = [
              ...earlier.promptTokenIds,
              ...earlier.outputTokenIds.slice(0, earlier.maxTokens),
              ...prompt.slice(-s.suffixLen),
            ];
          }
          prompt = prompt.slice(0, MAX_LEN - 1);
          const maxTokens = Math.min(s.maxTokens, MAX_LEN - prompt.length);
          const request = makeRequest(`r${i}`, prompt, maxTokens, {
            loraName: s.lora,
            cacheSalt: s.salt,
            remoteDecode: s.pd === 'remoteDecode',
            remotePrefill: s.pd === 'remotePrefill',
            priority: s.priority,
          });
          requests.push(request);
          const rec = submitAt(s.arrival / 1000, request);
          const onToken = rec.onToken.bind(rec);
          rec.onToken = (t, k, time) => {
            onToken(t, k, time);
            const stats = engine.stats();
            maxRunning = Math.max(maxRunning, stats.running);
            expect(stats.kvCacheUsage).toBeLessThanOrEqual(1);
          };
          recs.push(rec);
          if (s.abortAfter !== null)
            clock.setTimer((s.arrival + s.abortAfter) / 1000, () => engine.abort(request.id));
        });
        clock.runUntilIdle(1_000_000);

        expect(maxRunning).toBeLessThanOrEqual(config.maxNumSeqs);
        let preemptions = 0;
        let maxHashes = 0;
        recs.forEach((rec, i) => {
          const req = requests[i]!;
          const result = rec.result!;
          expect(rec.finishCalls).toBe(1);
          const n = rec.tokens.length;
          expect(rec.tokens).toEqual(req.outputTokenIds.slice(0, n));
          expect(rec.indexes).toEqual(range(0, n));
          expect(result.completionTokens).toBe(n);
          if (result.finishReason === 'length') {
            expect(n).toBe(req.remoteDecode ? 1 : req.maxTokens);
            expect(result.arrivalTime).toBeLessThanOrEqual(result.firstScheduledTime);
            expect(result.firstScheduledTime).toBeLessThan(result.firstTokenTime);
            expect(result.firstTokenTime).toBeLessThanOrEqual(result.finishTime);
          } else {
            expect(result.finishReason).toBe('abort');
          }
          for (let k = 1; k < n; k++) expect(rec.times[k]).toBeGreaterThan(rec.times[k - 1]!);
          expect(result.cachedTokens % BS).toBe(0);
          expect(result.cachedTokens).toBeLessThan(result.promptTokens);
          if (!config.enablePrefixCaching) expect(result.cachedTokens).toBe(0);
          preemptions += result.preemptions;
          maxHashes += Math.floor((req.promptTokenIds.length + req.maxTokens) / BS);
        });

        const stats = engine.stats();
        expect(stats).toMatchObject({
          running: 0,
          waiting: 0,
          kvCacheUsage: 0,
          preemptionsTotal: preemptions,
        });
        const internals = engine.internals();
        expect(internals.usedBlocks).toBe(0);
        expect(internals.hashCalls).toBeLessThanOrEqual(maxHashes);
        expect(log.problems).toEqual([]);
        expect(log.liveBlocks).toBe(internals.cachedBlocks);
        expect(log.storedCount - log.removedCount).toBe(internals.cachedBlocks);
        expect(clock.pending).toBe(0);

        expect(engine.resetPrefixCache()).toBe(true);
        expect(engine.internals()).toMatchObject({
          usedBlocks: 0,
          cachedBlocks: 0,
          freeBlocks: config.numGpuBlocks,
        });
        expect(log.liveBlocks).toBe(0);
      }),
      { numRuns: 150, examples: regressions },
    );
  });
});
