import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterState } from '../../src/cluster/cluster-state.ts';
import { PrefixHistoryMirror } from '../../src/cluster/prefix-history-mirror.ts';
import { InMemoryPrefixIndexStore } from '../../src/scheduler/producers/in-memory-prefix-index-store.ts';
import { RedisProcess, waitFor } from './support/redis-process.ts';
import { startReplica, startReplicas, testConfig } from './support/replicas.ts';

const EP1 = '10.0.0.1:8000';
const EP2 = '10.0.0.2:8000';
const STORE = { ttlMs: 60_000, sweepIntervalMs: 1000 };

let redis: RedisProcess;
const running: ClusterState[] = [];

beforeAll(async () => {
  redis = await RedisProcess.start();
});

afterAll(async () => {
  await redis.stop();
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((replica) => replica.close()));
});

async function replicas(count: number, config = testConfig()): Promise<ClusterState[]> {
  const list = await startReplicas(count, { ...config, url: redis.url });
  running.push(...list);
  return list;
}

const hashes = (from: number, n: number): bigint[] =>
  Array.from({ length: n }, (_, i) => BigInt.asUintN(64, BigInt(from + i) * 0x9e3779b97f4a7c15n));

describe('shared session pins', () => {
  it('finds a session pinned through one replica through the others, and in a replica started later', async () => {
    const config = testConfig();
    const [a, b] = await replicas(2, config);
    const pinsA = a!.schedulerState().sessionAffinity('session-affinity', STORE);
    const pinsB = b!.schedulerState().sessionAffinity('session-affinity', STORE);
    const now = performance.timeOrigin + performance.now();
    pinsA.bind('conv-1', EP1, now);
    pinsB.bind('conv-2', EP2, now);
    await waitFor(() => pinsB.get('conv-1', now) === EP1 && pinsA.get('conv-2', now) === EP2, 2000);

    // Re-pinned elsewhere through B: A follows; an older write does not win.
    pinsB.bind('conv-1', EP2, now + 10);
    await waitFor(() => pinsA.get('conv-1', now + 10) === EP2, 2000);
    expect(pinsA.get('conv-1', now + STORE.ttlMs + 11)).toBeUndefined();

    const c = await startReplica({ ...config, url: redis.url }, 'c');
    running.push(c);
    const pinsC = c.sessionAffinityStore('session-affinity', STORE);
    await waitFor(() => pinsC.get('conv-1', now + 10) === EP2 && pinsC.get('conv-2', now) === EP2, 2000);
    // Another plugin instance is another namespace.
    expect(c.sessionAffinityStore('other', STORE).get('conv-1', now)).toBeUndefined();
  });
});

describe('shared approximate-prefix history', () => {
  it('shares what each replica sent where, with LRU capacity and endpoint removal', async () => {
    const config = testConfig();
    const [a, b] = await replicas(2, config);
    const histA = a!.schedulerState().prefixIndex('approx');
    const histB = b!.schedulerState().prefixIndex('approx');
    const prompt = hashes(1, 40);
    histA.add(EP1, prompt, 100);
    histB.add(EP2, prompt.slice(0, 10), 100);
    await waitFor(
      () => histB.longestPrefix(prompt).get(EP1) === 40 && histA.longestPrefix(prompt).get(EP2) === 10,
      2000,
    );
    expect(histB.longestPrefix(prompt)).toEqual(
      new Map([
        [EP1, 40],
        [EP2, 10],
      ]),
    );

    // A full LRU evicts the oldest prompt's tail first, identically everywhere.
    histA.add(EP1, hashes(1000, 70), 100);
    await waitFor(() => histB.blockCount(EP1) === 100, 2000);
    expect(histB.longestPrefix(prompt).get(EP1)).toBe(30);
    expect(histA.longestPrefix(prompt).get(EP1)).toBe(30);

    const c = await startReplica({ ...config, url: redis.url }, 'c');
    running.push(c);
    const histC = c.prefixIndexStore('approx');
    await waitFor(() => histC.blockCount(EP1) === 100, 2000);
    expect(histC.longestPrefix(prompt)).toEqual(
      new Map([
        [EP1, 30],
        [EP2, 10],
      ]),
    );
    expect(histC.longestPrefix(hashes(1000, 70)).get(EP1)).toBe(70);

    histB.removeEndpoint(EP1);
    await waitFor(() => histA.blockCount(EP1) === 0 && histC.blockCount(EP1) === 0, 2000);
    expect(histA.endpointIds()).toEqual([EP2]);
  });

  it('keeps the local copy equivalent to the in-memory store', () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('add' as const),
        endpoint: fc.constantFrom('e1', 'e2', 'e3'),
        start: fc.integer({ min: 0, max: 20 }),
        length: fc.integer({ min: 0, max: 12 }),
        capacity: fc.integer({ min: 1, max: 16 }),
      }),
      fc.record({ kind: fc.constant('remove' as const), endpoint: fc.constantFrom('e1', 'e2', 'e3') }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), fc.integer({ min: 0, max: 20 }), (ops, probe) => {
        const mirror = new PrefixHistoryMirror();
        const reference = new InMemoryPrefixIndexStore();
        for (const o of ops) {
          if (o.kind === 'add') {
            const list = Array.from({ length: o.length }, (_, i) => BigInt(o.start + i));
            mirror.add(o.endpoint, list, o.capacity);
            reference.add(o.endpoint, list, o.capacity);
          } else {
            mirror.removeEndpoint(o.endpoint);
            reference.removeEndpoint(o.endpoint);
          }
        }
        const query = Array.from({ length: 25 - probe }, (_, i) => BigInt(probe + i));
        expect(mirror.longestPrefix(query)).toEqual(reference.longestPrefix(query));
        expect(mirror.endpointIds().sort()).toEqual(reference.endpointIds().sort());
        for (const id of ['e1', 'e2', 'e3']) expect(mirror.blockCount(id)).toBe(reference.blockCount(id));
      }),
    );
  });
});

describe("kvedge-picker's ledger, learning and turnover across replicas", () => {
  const LEDGER = { errorWindowMs: 10_000, rateWindowMs: 10_000, graceMs: 1_000 };
  const LEARNER = {
    prior: { secondsPerToken: 1e-4, stepSeconds: 0.01 },
    forgetting: 0.99,
    minObservations: 3,
    heterogeneityThreshold: 0.25,
  };

  it("mirrors each replica's dispatches, first tokens, completions, observations and KV writes", async () => {
    const [a, b] = await replicas(2);
    const stateA = a!.schedulerState();
    const stateB = b!.schedulerState();
    const ledgerA = stateA.podLedger('kvedge-picker', LEDGER);
    const ledgerB = stateB.podLedger('kvedge-picker', LEDGER);
    const ratesA = stateA.prefillRates('kvedge-picker', LEARNER);
    const ratesB = stateB.prefillRates('kvedge-picker', LEARNER);
    const turnoverA = stateA.cacheTurnover('kvedge-picker', 60_000);
    const turnoverB = stateB.cacheTurnover('kvedge-picker', 60_000);
    // Subscriptions are asynchronous; wait until a probe from each side arrives.
    await waitFor(() => {
      turnoverA.record('probe', 1, 0);
      turnoverB.record('probe', 1, 0);
      return turnoverA.tokensWritten('probe', 0) > 1 && turnoverB.tokensWritten('probe', 0) > 1;
    }, 3000);

    ledgerA.dispatch(
      {
        requestId: 'r1',
        endpointId: EP1,
        dispatchMs: 1000,
        promptTokens: 6000,
        uncachedTokens: 6000,
        waitMs: 0,
        steps: 1,
        interferenceSeconds: 0,
      },
      1500,
    );
    await waitFor(() => ledgerB.book(EP1)?.outstanding === 1, 2000);
    // Times are rebased onto B's clock by the publish-to-apply delay (both replicas share one host here).
    expect(ledgerB.book(EP1)!.busyUntilMs).toBeGreaterThanOrEqual(1500);
    expect(ledgerB.book(EP1)!.busyUntilMs).toBeLessThan(1600);
    expect(ledgerB.book(EP1)?.pendingTokens).toBe(6000);
    ledgerA.firstToken('r1', 1700);
    await waitFor(() => ledgerB.book(EP1)?.pending.length === 0, 2000);
    expect(ledgerB.record('r1')).toBeUndefined(); // mirrored ids live in the sender's namespace
    ledgerA.complete('r1', 5000, true, EP1);
    await waitFor(() => ledgerB.book(EP1)?.outstanding === 0, 2000);
    expect(ledgerB.book(EP1)?.errorTimesMs).toHaveLength(1);
    expect(ledgerB.book(EP1)!.errorTimesMs[0]).toBeGreaterThanOrEqual(5000);
    expect(ledgerB.book(EP1)!.errorTimesMs[0]).toBeLessThan(5100);

    for (let i = 0; i < 10; i++) {
      ratesB.observe(EP2, {
        uncachedTokens: 1000 + 500 * i,
        steps: 1,
        serviceSeconds: 0.3 + 0.15 * i,
        weight: 1,
      });
    }
    await waitFor(() => ratesA.fleetRates().observations === 10, 2000);
    expect(ratesA.rates(EP2).secondsPerToken).toBeCloseTo(ratesB.rates(EP2).secondsPerToken, 9);

    turnoverB.record(EP2, 4000, 0);
    await waitFor(() => turnoverA.tokensWritten(EP2, 0) === 4000, 2000);
    expect(a!.counters.pickerStateReceived).toBeGreaterThan(0);
    expect(b!.counters.pickerStatePublished).toBeGreaterThan(0);
  });

  it('keeps routing on local state while Redis is down', async () => {
    const [a] = await replicas(1);
    const ledger = a!.schedulerState().podLedger('kvedge-picker', LEDGER);
    await redis.kill();
    try {
      await waitFor(() => a!.degraded, 5000);
      ledger.dispatch(
        {
          requestId: 'r2',
          endpointId: EP1,
          dispatchMs: 0,
          promptTokens: 100,
          uncachedTokens: 100,
          waitMs: 0,
          steps: 1,
          interferenceSeconds: 0,
        },
        50,
      );
      expect(ledger.book(EP1)?.outstanding).toBe(1);
      expect(a!.counters.writesSkippedDegraded).toBeGreaterThan(0);
    } finally {
      await redis.restart();
    }
  });
});
