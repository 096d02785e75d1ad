import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterState } from '../../src/cluster/cluster-state.ts';
import { RedisProcess, waitFor } from './support/redis-process.ts';
import { lookupKeys, matched, MODEL, prefill, startReplicas, testConfig } from './support/replicas.ts';

const POD = '10.0.0.1:8000';
const EP = '10.0.0.9:8000';
const STORE = { ttlMs: 60_000, sweepIntervalMs: 1000 };

let redis: RedisProcess;

beforeAll(async () => {
  redis = await RedisProcess.start();
});

afterAll(async () => {
  await redis.stop();
});

/** What a router does per request: lookups and bookkeeping, all of which must keep working. */
function route(replica: ClusterState, seed: number): void {
  const { prompt } = prefill(seed, 4);
  replica.index.longestPrefix(lookupKeys(prompt));
  replica.index.recordSpeculative(POD, lookupKeys(prompt), 2000);
  replica.inflight.acquire(EP, 100);
  replica.inflight.release(EP, 100);
  const state = replica.schedulerState();
  state.sessionAffinity('pins', STORE).bind(`s${seed}`, EP, performance.timeOrigin + performance.now());
  state.prefixIndex('approx').add(EP, [BigInt(seed)], 100);
  replica.inflight.withPeers({ nowMs: 0, endpoints: [] });
}

describe('Redis outage', () => {
  it('keeps routing on local state while Redis is down, and rebuilds the shared state when it returns', async () => {
    const config = { ...testConfig(), url: redis.url };
    const [a, b] = (await startReplicas(2, config)) as [ClusterState, ClusterState];
    const events: string[] = [];
    let stop = false;
    let load: Promise<void> = Promise.resolve();
    a.on('degraded', () => events.push('degraded'));
    a.on('recovered', () => events.push('recovered'));
    try {
      const before = prefill(1, 8);
      for (const r of [a, b]) await r.ingestor.applyBatch(POD, MODEL, before.events);
      await waitFor(() => matched(b, POD, before.prompt) === 8, 3000);
      expect(a.counters.batchesOwned).toBe(1);

      // Load in flight on both replicas while Redis dies.
      let calls = 0;
      load = (async () => {
        let seed = 100;
        while (!stop) {
          route(a, seed);
          route(b, seed + 1);
          seed += 2;
          calls += 2;
          await delay(2);
        }
      })();
      await delay(50);
      await redis.kill();
      await waitFor(() => a.degraded && b.degraded, 3000);
      expect(events).toContain('degraded');
      expect(a.degradedTransitions).toBe(1);
      await delay(400); // past localIngestAfterMs (300 ms in tests)

      // KV events still reach the mirrors: the owner keeps ingesting (its writes wait), the other
      // replica ingests locally.
      const during = prefill(2, 6);
      for (const r of [a, b]) await r.ingestor.applyBatch(POD, MODEL, during.events);
      expect(matched(a, POD, during.prompt)).toBe(6);
      expect(matched(b, POD, during.prompt)).toBe(6);
      expect(matched(b, POD, before.prompt)).toBe(8);
      expect(b.counters.batchesLocal).toBe(1);
      expect(a.counters.batchesOwned).toBe(2);
      const pinned = a.schedulerState().sessionAffinity('pins', STORE);
      pinned.bind('outage-session', EP, performance.timeOrigin + performance.now());
      const callsDuringOutage = calls;
      await delay(300); // nothing piles up: calls keep flowing at full rate
      expect(calls).toBeGreaterThan(callsDuringOutage + 20);

      // Redis returns empty (no persistence): owners republish, leases are re-acquired, mirrors re-sync.
      await redis.restart();
      await waitFor(() => !a.degraded && !b.degraded, 5000);
      expect(events.at(-1)).toBe('recovered');
      const admin = new Redis(redis.port, '127.0.0.1');
      try {
        await waitFor(async () => (await admin.get(`${config.keyPrefix}{ix0}:lease:${POD}`)) === 'r0', 3000);
        expect(a.counters.republishes).toBeGreaterThanOrEqual(2);
      } finally {
        admin.disconnect();
      }
      stop = true;
      await load;

      // B sees A's new writes again (through the stream, not its own ingestion).
      const after = prefill(3, 5);
      const appliedBefore = b.counters.changesApplied;
      for (const r of [a, b]) await r.ingestor.applyBatch(POD, MODEL, after.events);
      await waitFor(() => matched(b, POD, after.prompt) === 5, 3000);
      expect(b.counters.changesApplied).toBeGreaterThan(appliedBefore);
      // Nothing of what was learnt before or during the outage was lost or doubled.
      expect(matched(b, POD, before.prompt)).toBe(8);
      expect(matched(b, POD, during.prompt)).toBe(6);
      // ...and counted once: one removal through the owner empties B's copy (a mirror that kept its
      // own outage-time ingestion on top of the owner's would still hold the blocks).
      const evictDuring = [{ type: 'BlockRemoved' as const, blockHashes: [2_000_001n], medium: 'GPU' }];
      for (const r of [a, b]) await r.ingestor.applyBatch(POD, MODEL, evictDuring);
      await waitFor(() => matched(b, POD, during.prompt) === 0, 3000);
      expect(matched(b, POD, before.prompt)).toBe(8);
      // State held only locally during the outage was republished.
      const pinsB = b.schedulerState().sessionAffinity('pins', STORE);
      await waitFor(
        () => pinsB.get('outage-session', performance.timeOrigin + performance.now()) === EP,
        3000,
      );
      a.inflight.acquire(EP, 7);
      await waitFor(() => b.inflight.peers(EP).tokens === 7, 3000);
    } finally {
      stop = true;
      await load;
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('gets through a brief disconnection without republishing or reloading anything', async () => {
    const config = { ...testConfig(), url: redis.url };
    const [a, b] = (await startReplicas(2, config)) as [ClusterState, ClusterState];
    const admin = new Redis(redis.port, '127.0.0.1');
    try {
      const first = prefill(1, 6);
      for (const r of [a, b]) await r.ingestor.applyBatch(POD, MODEL, first.events);
      await waitFor(() => matched(b, POD, first.prompt) === 6, 3000);
      const republishes = a.counters.republishes;
      const resyncs = b.counters.podResyncs;

      // Every client connection dropped at once; ioredis reconnects within ~50 ms.
      await admin.client('KILL', 'TYPE', 'normal');
      await waitFor(() => a.degradedTransitions > 0, 2000);
      const during = prefill(2, 3); // the owner queues this write until Redis is back
      for (const r of [a, b]) await r.ingestor.applyBatch(POD, MODEL, during.events);
      await waitFor(() => !a.degraded && !b.degraded, 5000);
      await waitFor(() => matched(b, POD, during.prompt) === 3, 3000);

      const after = prefill(3, 2);
      for (const r of [a, b]) await r.ingestor.applyBatch(POD, MODEL, after.events);
      await waitFor(() => matched(b, POD, after.prompt) === 2, 3000);
      expect(a.counters.republishes).toBe(republishes);
      expect(b.counters.podResyncs).toBe(resyncs);
      expect(b.counters.batchesLocal).toBe(0);
      expect(matched(b, POD, first.prompt)).toBe(6);
    } finally {
      admin.disconnect();
      await Promise.all([a.close(), b.close()]);
    }
  });
});
