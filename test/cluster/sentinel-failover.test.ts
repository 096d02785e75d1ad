import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterState } from '../../src/cluster/cluster-state.ts';
import { SentinelSetup, waitFor } from './support/redis-process.ts';
import { lookupKeys, matched, MODEL, prefill, startReplicas, testConfig } from './support/replicas.ts';

const POD = '10.0.0.1:8000';
const EP = '10.0.0.9:8000';
const STORE = { ttlMs: 60_000, sweepIntervalMs: 1000 };

let sentinel: SentinelSetup;

beforeAll(async () => {
  sentinel = await SentinelSetup.start({ sentinels: 3, downAfterMs: 500, failoverTimeoutMs: 2000 });
});

afterAll(async () => {
  await sentinel?.stop();
});

describe('Sentinel failover', () => {
  it('follows the promoted replica without a restart; writes after the failover reach every replica', async () => {
    const config = {
      ...testConfig(),
      mode: 'sentinel' as const,
      sentinels: sentinel.sentinels,
      masterName: sentinel.masterName,
    };
    const [a, b] = (await startReplicas(2, config)) as [ClusterState, ClusterState];
    try {
      expect(a.degraded).toBe(false);
      const before = prefill(1, 8);
      for (const r of [a, b]) await r.ingestor.applyBatch(POD, MODEL, before.events);
      await waitFor(() => matched(b, POD, before.prompt) === 8, 3000);
      a.inflight.acquire(EP, 10);
      await waitFor(() => b.inflight.peers(EP).requests === 1, 2000);

      // Routing calls continue throughout the failover.
      let stop = false;
      let failures = 0;
      const load = (async () => {
        for (let i = 0; !stop; i++) {
          try {
            a.index.longestPrefix(lookupKeys(before.prompt));
            b.inflight.acquire(EP, 1);
            b.inflight.release(EP, 1);
            a.schedulerState().sessionAffinity('pins', STORE).bind(`s${i}`, EP, Date.now());
          } catch {
            failures++;
          }
          await delay(5);
        }
      })();
      await sentinel.failover();
      await waitFor(() => !a.degraded && !b.degraded, 10_000);
      stop = true;
      await load;
      expect(failures).toBe(0);
      // Both replicas' connections now point at the promoted replica: no restart, no reconfiguration.
      const promoted = new Redis(sentinel.replica.port, '127.0.0.1');
      try {
        const clients = await promoted.client('LIST');
        expect(clients).toContain('name=kvedge:r0:command');
        expect(clients).toContain('name=kvedge:r1:stream-0');
      } finally {
        promoted.disconnect();
      }

      // Writes after the failover land on the new primary and reach the other replica.
      const after = prefill(2, 5);
      for (const r of [a, b]) await r.ingestor.applyBatch(POD, MODEL, after.events);
      await waitFor(() => matched(b, POD, after.prompt) === 5, 5000);
      expect(matched(b, POD, before.prompt)).toBe(8);
      a.inflight.acquire(EP, 20);
      await waitFor(() => b.inflight.peers(EP).tokens === 30, 3000);
      const pinsB = b.schedulerState().sessionAffinity('pins', STORE);
      a.schedulerState().sessionAffinity('pins', STORE).bind('after-failover', EP, Date.now());
      await waitFor(() => pinsB.get('after-failover', Date.now()) === EP, 3000);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
