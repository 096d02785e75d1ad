/**
 * Session pins and prefix history recorded by a replica while it cannot reach Redis still reach
 * the other replicas once it can: re-sent after an outage that kept Redis' data, republished (and
 * published, so a peer that already reloaded learns them) after Redis lost it. Replica A reaches
 * Redis through a TCP proxy the test cuts, so which replica reconnects first is decided here.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterState } from '../../src/cluster/cluster-state.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';
import { RedisProcess, waitFor } from './support/redis-process.ts';
import { startReplica, testConfig } from './support/replicas.ts';

const EP = '10.0.0.1:8000';
const STORE = { ttlMs: 60_000, sweepIntervalMs: 1000 };
const PROMPT = Array.from({ length: 12 }, (_, i) => BigInt.asUintN(64, BigInt(i + 1) * 0x9e3779b97f4a7c15n));

let redis: RedisProcess;
let proxy: TcpProxy;
const running: ClusterState[] = [];

beforeAll(async () => {
  redis = await RedisProcess.start();
  proxy = await TcpProxy.start(redis.port);
});

afterAll(async () => {
  await proxy.close();
  await redis.stop();
});

afterEach(async () => {
  proxy.unblock();
  await Promise.all(running.splice(0).map((replica) => replica.close()));
});

/** A behind the proxy, B connected directly. */
async function pair(): Promise<[ClusterState, ClusterState]> {
  const config = testConfig();
  const a = await startReplica({ ...config, url: proxy.url }, 'a');
  const b = await startReplica({ ...config, url: redis.url }, 'b');
  running.push(a, b);
  // The stores exist from the start, as routing creates them: B only learns what is published.
  for (const r of [a, b]) {
    r.sessionAffinityStore('pins', STORE);
    r.prefixIndexStore('approx');
  }
  return [a, b];
}

/** A pins a session and routes a prompt while it is cut off; B must learn both. */
function recordOnA(a: ClusterState): number {
  expect(a.degraded).toBe(true);
  const now = performance.timeOrigin + performance.now();
  a.sessionAffinityStore('pins', STORE).bind('conv-1', EP, now);
  a.prefixIndexStore('approx').add(EP, PROMPT, 100);
  expect(a.counters.writesSkippedDegraded).toBeGreaterThanOrEqual(2);
  return now;
}

async function expectLearnedByB(b: ClusterState, now: number): Promise<void> {
  await waitFor(
    () =>
      b.sessionAffinityStore('pins', STORE).get('conv-1', now) === EP &&
      b.prefixIndexStore('approx').longestPrefix(PROMPT).get(EP) === PROMPT.length,
    3000,
  );
}

describe('writes made while cut off from Redis', () => {
  it('are re-sent when the replica reconnects to a Redis that kept its data', async () => {
    const [a, b] = await pair();
    proxy.block();
    await waitFor(() => a.degraded, 3000);
    const now = recordOnA(a);
    proxy.unblock();
    await waitFor(() => !a.degraded, 5000);
    await expectLearnedByB(b, now);
  });

  it('reach a peer that resynchronised with an emptied Redis before this replica did', async () => {
    const [a, b] = await pair();
    proxy.block();
    await redis.kill();
    await waitFor(() => a.degraded && b.degraded, 3000);
    const now = recordOnA(a);
    await redis.restart();
    await waitFor(() => !b.degraded, 5000);
    expect(b.prefixIndexStore('approx').longestPrefix(PROMPT).get(EP)).toBeUndefined();
    proxy.unblock();
    await waitFor(() => !a.degraded, 5000);
    await expectLearnedByB(b, now);
  });
});
