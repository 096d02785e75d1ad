/**
 * Router replicas in live mode, end to end on a tiny sim fleet: N routers behind the load
 * generator's round robin share state through a private redis-server, each reports its own
 * decisions and cluster counters, and stopping them stops that redis-server too.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kvedgeRouterLauncher, routerLabel } from '../../bench/live/kvedge-router-launcher.ts';
import { podNames } from '../../bench/live/live-benchmark.ts';
import { runLive } from '../../bench/live/live-driver.ts';
import { startSimFleet } from '../../bench/live/sim-fleet-launcher.ts';
import { policyByName } from '../../bench/policies/catalog.ts';
import { rawCommand } from '../cluster/support/redis-process.ts';
import { freePortRange } from '../support/free-port.ts';
import { request, tinyWorkload, tokens } from './fixtures.ts';

describe('kvedge router replicas in live mode', () => {
  it('names the setup by its replica count', () => {
    expect(routerLabel('llm-d-precise', 1)).toBe('kvedge router (llm-d-precise)');
    expect(routerLabel('llm-d-precise', 3)).toBe('kvedge router (llm-d-precise) × 3 replicas');
  });

  it('starts two replicas on a private Redis, spreads requests over them, and stops everything', async () => {
    const workload = tinyWorkload(
      Array.from({ length: 6 }, (_, i) => request(`r${i}`, i * 0.05, tokens(1, 16 + (i % 3) * 4), 2)),
    );
    const fleetFile = join(mkdtempSync(join(tmpdir(), 'kvedge-bench-test-')), 'fleet.yaml');
    const fleet = await startSimFleet(workload.fleet, {
      speed: 1,
      kvPort: await freePortRange(workload.fleet.pods),
      fleetFile,
    });
    const launcher = kvedgeRouterLauncher(policyByName('llm-d-precise'), workload, { replicas: 2, seed: 1 });
    expect(launcher.replicas).toBe(2);
    const router = await launcher.start(fleet, fleetFile);
    let redisPort = 0;
    try {
      expect(router.baseUrls).toHaveLength(2);
      expect(router.redis?.owned).toBe(true);
      redisPort = Number(new URL(router.redis!.url).port);
      expect(redisPort).not.toBe(6379);
      expect(await rawCommand(redisPort, 'PING')).toMatch(/PONG/);
      const run = await runLive({ workload, targets: router.baseUrls, model: fleet.model, label: 'x' });
      expect(run.records.filter((r) => r.error !== null)).toEqual([]);
      const stats = await router.stats();
      expect(stats.replicas.map((r) => r.decisions)).toEqual([3, 3]);
      expect(stats.replicas.map((r) => run.requestsPerTarget[r.baseUrl])).toEqual([3, 3]);
      expect(stats.decisionUs.p50).toBeGreaterThan(0);
      for (const replica of stats.replicas) {
        expect(replica.cluster['degraded_transitions']).toBe(0);
        expect(replica.cluster).toHaveProperty('owned_pods');
      }
    } finally {
      await router.stop();
      await fleet.stop();
    }
    expect(await rawCommand(redisPort, 'PING')).toBeNull();
  });

  it('runs one replica without Redis', async () => {
    const workload = tinyWorkload([request('a', 0, tokens(1, 12), 2)]);
    const fleetFile = join(mkdtempSync(join(tmpdir(), 'kvedge-bench-test-')), 'fleet.yaml');
    const fleet = await startSimFleet(workload.fleet, {
      speed: 1,
      kvPort: await freePortRange(workload.fleet.pods),
      fleetFile,
    });
    const router = await kvedgeRouterLauncher(policyByName('llm-d-well-lit'), workload, { seed: 1 }).start(
      fleet,
      fleetFile,
    );
    try {
      expect(router.baseUrls).toHaveLength(1);
      expect(router.redis).toBeUndefined();
      const run = await runLive({
        workload,
        targets: router.baseUrls,
        model: fleet.model,
        label: 'x',
        podIds: podNames(fleet.fleet),
      });
      // The pods are listed under the names their responses carry: one served, the rest idle, no
      // phantom entries (listing them by address once doubled the pod count in the spread figures).
      expect(Object.keys(run.dispatchedPerPod).sort()).toEqual(podNames(fleet.fleet).sort());
      expect(Object.values(run.dispatchedPerPod).reduce((a, b) => a + b, 0)).toBe(1);
      const stats = await router.stats();
      expect(stats.replicas[0]!.decisions).toBe(1);
      expect(stats.replicas[0]!.cluster).toEqual({});
    } finally {
      await router.stop();
      await fleet.stop();
    }
  });
});
