import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterState } from '../../src/cluster/cluster-state.ts';
import { RedisClusterSetup, waitFor } from './support/redis-process.ts';
import { matched, MODEL, prefill, startReplicas, testConfig } from './support/replicas.ts';

let cluster: RedisClusterSetup;

beforeAll(async () => {
  cluster = await RedisClusterSetup.start(3);
});

afterAll(async () => {
  await cluster?.stop();
});

describe('Redis Cluster', () => {
  it('shares index, load, pins, history and placement claims with index shards spread over the primaries', async () => {
    const config = {
      ...testConfig(),
      mode: 'cluster' as const,
      nodes: cluster.addresses.slice(0, 1),
      index: { shards: 4, leaseTtlMs: 1000, readBlockMs: 200 },
    };
    const [a, b] = (await startReplicas(2, config)) as [ClusterState, ClusterState];
    try {
      expect(a.degraded).toBe(false);
      const shards = new Set(['p1', 'p2', 'p3', 'p4', 'p5', 'p6'].map((p) => a.keys.shardOf(p)));
      expect(shards.size).toBeGreaterThan(1); // multi-key scripts run in several slots
      const loads = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'].map((pod, i) => ({ pod, ...prefill(i + 1, 4) }));
      for (const load of loads)
        for (const r of [a, b]) await r.ingestor.applyBatch(load.pod, MODEL, load.events);
      await waitFor(() => loads.every((load) => matched(b, load.pod, load.prompt) === 4), 5000);
      expect(a.counters.batchesOwned).toBe(6);

      a.inflight.acquire('ep', 5);
      await waitFor(() => b.inflight.peers('ep').requests === 1, 3000);
      const now = Date.now();
      a.sessionAffinityStore('pins', { ttlMs: 60_000, sweepIntervalMs: 1000 }).bind('conv', 'ep', now);
      const pinsB = b.sessionAffinityStore('pins', { ttlMs: 60_000, sweepIntervalMs: 1000 });
      await waitFor(() => pinsB.get('conv', now) === 'ep', 3000);
      a.prefixIndexStore('approx').add('ep', [1n, 2n, 3n], 10);
      const historyB = b.prefixIndexStore('approx');
      await waitFor(() => historyB.longestPrefix([1n, 2n, 3n]).get('ep') === 3, 3000);
      // Placement claims are single-key scripts: any slot, any primary.
      for (const key of [1n, 2n ** 40n + 7n, 99n]) {
        expect(await a.placementClaims!.claim(MODEL, key, 'pod-a')).toEqual({ kind: 'won' });
        expect(await b.placementClaims!.claim(MODEL, key, 'pod-b')).toEqual({
          kind: 'taken',
          value: 'pod-a',
        });
      }
      // A probe reads several claims in one script: they share a slot.
      expect(await b.placementClaims!.find(MODEL, [5n, 99n, 1n])).toBe('pod-a');
      expect(a.counters.redisErrors + b.counters.redisErrors).toBe(0);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
