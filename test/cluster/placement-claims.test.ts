/**
 * Placement claims in a real Redis: of replicas claiming one key at once exactly one wins and the
 * others get its value; claims expire; a stalled or dead Redis costs at most the claim timeout and
 * the replica decides alone.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterState } from '../../src/cluster/cluster-state.ts';
import { RedisProcess, rawCommand } from './support/redis-process.ts';
import { startReplicas, testConfig } from './support/replicas.ts';

let redis: RedisProcess;
let replicas: ClusterState[] = [];

beforeAll(async () => {
  redis = await RedisProcess.start({ args: ['--enable-debug-command', 'yes'] });
});

afterEach(async () => {
  await Promise.all(replicas.map((r) => r.close()));
  replicas = [];
});

afterAll(async () => {
  await redis?.stop();
});

async function start(count: number, ttlMs = 300): Promise<ClusterState[]> {
  replicas = await startReplicas(
    count,
    testConfig({ url: redis.url, placementClaims: { ttlMs, timeoutMs: 20 } }),
  );
  return replicas;
}

describe('PlacementClaims', () => {
  it('lets exactly one of several simultaneous claimants win and tells the others its value', async () => {
    const rs = await start(4);
    for (const key of [1n, 2n ** 63n + 5n, 77n]) {
      const outcomes = await Promise.all(rs.map((r, i) => r.placementClaims!.claim('m', key, `pod-${i}`)));
      const winners = outcomes.flatMap((o, i) => (o.kind === 'won' ? [i] : []));
      expect(winners).toHaveLength(1);
      for (const o of outcomes)
        if (o.kind !== 'won') expect(o).toEqual({ kind: 'taken', value: `pod-${winners[0]}` });
    }
    // Same key under another model: a separate claim.
    expect(await rs[1]!.placementClaims!.claim('other-model', 1n, 'pod-1')).toEqual({ kind: 'won' });
    const won = rs.reduce((n, r) => n + r.counters.placementClaimsWon, 0);
    const taken = rs.reduce((n, r) => n + r.counters.placementClaimsTaken, 0);
    expect([won, taken]).toEqual([4, 9]);
  });

  it('finds the first standing claim among candidate keys, in one script', async () => {
    const [a, b] = await start(2);
    expect(await b!.placementClaims!.find('m', [21n, 22n])).toBeNull();
    await a!.placementClaims!.claim('m', 22n, 'pod-a');
    await a!.placementClaims!.claim('m', 23n, 'pod-c');
    expect(await b!.placementClaims!.find('m', [21n, 23n, 22n])).toBe('pod-c');
    expect(await b!.placementClaims!.find('other', [22n])).toBeNull();
    expect(await b!.placementClaims!.find('m', [])).toBeNull();
  });

  it('expires a claim after its TTL', async () => {
    const [a, b] = await start(2, 200);
    expect(await a!.placementClaims!.claim('m', 9n, 'pod-a')).toEqual({ kind: 'won' });
    expect(await b!.placementClaims!.claim('m', 9n, 'pod-b')).toEqual({ kind: 'taken', value: 'pod-a' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await b!.placementClaims!.claim('m', 9n, 'pod-b')).toEqual({ kind: 'won' });
  });

  it('gives up after the timeout when Redis stalls, without waiting for it', async () => {
    const [a] = await start(1);
    const stall = rawCommand(redis.port, 'DEBUG SLEEP 0.5', 2_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = performance.now();
    const outcome = await a!.placementClaims!.claim('m', 11n, 'pod-a');
    const waited = performance.now() - started;
    expect(outcome).toEqual({ kind: 'unavailable' });
    // Redis answers 450 ms later; the claim stopped waiting at its 20 ms timeout.
    expect(waited).toBeLessThan(300);
    expect(a!.counters.placementClaimsUnavailable).toBe(1);
    await stall;
  });

  it('is not attempted while Redis is down', async () => {
    const own = await RedisProcess.start();
    try {
      replicas = await startReplicas(1, testConfig({ url: own.url }));
      const a = replicas[0]!;
      expect(await a.placementClaims!.claim('m', 12n, 'pod-a')).toEqual({ kind: 'won' });
      await own.kill();
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(await a.placementClaims!.claim('m', 13n, 'pod-a')).toEqual({ kind: 'unavailable' });
      expect(a.counters.placementClaimsUnavailable).toBeGreaterThan(0);
    } finally {
      await own.stop();
    }
  });

  it('is absent when disabled', async () => {
    replicas = await startReplicas(1, testConfig({ url: redis.url, placementClaims: { enabled: false } }));
    expect(replicas[0]!.placementClaims).toBeNull();
  });
});
