/**
 * Router replicas through Redis failures, with client traffic running the whole time:
 * - Sentinel failover: three replicas configured with the sentinels (not with an address), the
 *   primary killed. No client sees an error; afterwards the replicas share state through the
 *   promoted replica — new prefixes, the prefix routed while the primary was gone, and in-flight
 *   load all reach the other replicas.
 * - Standalone Redis killed, then restarted empty on the same port: no client errors; the shared
 *   state is rebuilt from the replicas' local knowledge, including what they routed during the
 *   outage (one replica is kept cut off until the other has resynchronised, so the order in which
 *   they reconnect is the one that used to lose data), and new state is shared again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStateConfigInput } from '../../src/cluster/config.ts';
import type { Router } from '../../src/routing/router.ts';
import type { SimFleet } from '../../src/sim/server/sim-fleet.ts';
import { RedisProcess, SentinelSetup } from '../cluster/support/redis-process.ts';
import {
  chat,
  chatUrl,
  openStream,
  prefixMatch,
  replicaMetric,
  startTraffic,
  stopAll,
  type TrafficResult,
} from './support/replicas.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';
import { longSystemPrompt, postJson, sleep, startFleet, startRouter, waitFor } from './support/stack.ts';

let fleet: SimFleet;

beforeAll(async () => {
  fleet = await startFleet({ pods: 4 });
});

afterAll(async () => {
  await fleet?.stop();
});

async function startReplicas(count: number, cluster: ClusterStateConfigInput): Promise<Router[]> {
  const replicas: Router[] = [];
  for (let seed = 1; seed <= count; seed++) replicas.push(await startRouter(fleet.pods, { cluster, seed }));
  return replicas;
}

/** Client traffic: short questions, every third one behind a shared system prompt. */
function traffic(replicas: readonly Router[]): { stop(): Promise<TrafficResult> } {
  const shared = longSystemPrompt(300, 'traffic');
  return startTraffic(
    replicas,
    (i) => (i % 3 === 0 ? chat(shared, `traffic ${i}`) : chat('Be brief.', `q${i}`)),
    {
      lanes: 2,
      pauseMs: 10,
    },
  );
}

async function serve(router: Router, body: unknown): Promise<string> {
  const response = await postJson(chatUrl(router), body);
  expect(response.status).toBe(200);
  return response.headers.get('x-kvedge-endpoint') ?? '';
}

const degraded = (r: Router): Promise<number> => replicaMetric(r, 'kvedge_cluster_degraded');

/** Waits until `router` matches `system` on `pod` through its shared routing history, then routes there. */
async function expectRoutedTo(router: Router, system: string, pod: string): Promise<void> {
  let last: unknown;
  await waitFor(
    async () => {
      const match = await prefixMatch(router, chat(system, 'probe'));
      last = match;
      return (match.matched[pod] ?? 0) >= match.total * 0.9 && match.total > 0;
    },
    5_000,
    `a prefix match on ${pod}`,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; last trace: ${JSON.stringify(last)}`);
  });
  expect(await serve(router, chat(system, 'follow-up'))).toBe(pod);
}

/** A long request through `from` is seen in flight, on its pod, by every other replica. */
async function expectLoadShared(from: Router, others: readonly Router[]): Promise<void> {
  const stream = await openStream(from, 'a long answer, please', 20_000);
  try {
    for (const other of others) {
      await waitFor(
        async () =>
          (await replicaMetric(other, 'kvedge_endpoint_peer_inflight_requests', {
            endpoint: stream.endpoint,
          })) === 1,
        3_000,
        'the stream in a peer replica load view',
      );
    }
  } finally {
    stream.cancel();
    await stream.done;
  }
}

describe('Sentinel failover under traffic', () => {
  let sentinel: SentinelSetup;
  let replicas: Router[] = [];

  beforeAll(async () => {
    sentinel = await SentinelSetup.start({ sentinels: 3, downAfterMs: 500, failoverTimeoutMs: 2000 });
    replicas = await startReplicas(3, {
      mode: 'sentinel',
      sentinels: sentinel.sentinels,
      masterName: sentinel.masterName,
      keyPrefix: `kvedge-sentinel-${process.pid}:`,
    });
  }, 30_000);

  afterAll(async () => {
    await stopAll(replicas);
    await sentinel?.stop();
  });

  it('serves every request while the primary dies, then shares state through the promoted replica', async () => {
    const [a, b, c] = replicas as [Router, Router, Router];
    const before = longSystemPrompt(800, 'before-failover');
    const beforePod = await serve(a, chat(before, 'first'));
    await expectRoutedTo(b, before, beforePod);

    const load = traffic(replicas);
    const failover = sentinel.failover();
    await waitFor(async () => (await degraded(a)) === 1, 5_000, 'replica A to notice the dead primary');
    // Routed while Redis has no primary: A's history write cannot land now and must follow later.
    const during = longSystemPrompt(800, 'during-failover');
    const duringPod = await serve(a, chat(during, 'first'));
    await failover;
    expect(await sentinel.primaryPort()).toBe(sentinel.replica.port);
    await waitFor(
      async () => (await Promise.all(replicas.map(degraded))).every((d) => d === 0),
      10_000,
      'every replica to resynchronise with the promoted replica',
    );
    const result = await load.stop();
    console.log(
      `[replicas-failover] sentinel failover: ${result.requests} requests, ${result.errors} client errors`,
    );
    expect(result.failures).toEqual([]);
    expect(result.requests).toBeGreaterThan(50);

    const after = longSystemPrompt(800, 'after-failover');
    const afterPod = await serve(a, chat(after, 'first'));
    for (const other of [b, c]) {
      await expectRoutedTo(other, after, afterPod);
      await expectRoutedTo(other, during, duringPod);
      await expectRoutedTo(other, before, beforePod);
    }
    await expectLoadShared(a, [b, c]);
  });
});

describe('Redis killed, then restarted empty', () => {
  let redis: RedisProcess;
  /** Replica A reaches Redis through this, so the test can keep A cut off while B reconnects. */
  let pathOfA: TcpProxy;
  let replicas: Router[] = [];

  beforeAll(async () => {
    redis = await RedisProcess.start();
    pathOfA = await TcpProxy.start(redis.port);
    const keyPrefix = `kvedge-restart-${process.pid}:`;
    replicas = [
      await startRouter(fleet.pods, { cluster: { url: pathOfA.url, keyPrefix }, seed: 1 }),
      await startRouter(fleet.pods, { cluster: { url: redis.url, keyPrefix }, seed: 2 }),
    ];
  }, 30_000);

  afterAll(async () => {
    await stopAll(replicas);
    await pathOfA?.close();
    await redis?.stop();
  });

  it('serves every request through the outage, then rebuilds the shared state', async () => {
    const [a, b] = replicas as [Router, Router];
    const before = longSystemPrompt(800, 'before-outage');
    const beforePod = await serve(a, chat(before, 'first'));
    await expectRoutedTo(b, before, beforePod);

    const load = traffic(replicas);
    await redis.kill();
    await waitFor(
      async () => (await degraded(a)) === 1 && (await degraded(b)) === 1,
      5_000,
      'both replicas to notice Redis is gone',
    );
    // Known only to the replica that routed it: Redis is down, and will come back without any data.
    const duringA = longSystemPrompt(800, 'during-outage-a');
    const duringAPod = await serve(a, chat(duringA, 'first'));
    const duringB = longSystemPrompt(800, 'during-outage-b');
    const duringBPod = await serve(b, chat(duringB, 'first'));
    await sleep(300);
    // B resynchronises first and finds nothing of A's; A comes back after, with what B must learn.
    pathOfA.block();
    await redis.restart();
    await waitFor(async () => (await degraded(b)) === 0, 10_000, 'B to resynchronise with the new Redis');
    await sleep(200);
    expect(await degraded(a)).toBe(1);
    pathOfA.unblock();
    await waitFor(async () => (await degraded(a)) === 0, 10_000, 'A to resynchronise with the new Redis');
    const result = await load.stop();
    console.log(
      `[replicas-failover] redis kill + restart: ${result.requests} requests, ${result.errors} client errors`,
    );
    expect(result.failures).toEqual([]);
    expect(result.requests).toBeGreaterThan(20);

    // Rebuilt from the replicas' local histories: each learns what the other routed during the
    // outage, whichever reconnected first.
    await expectRoutedTo(b, duringA, duringAPod);
    await expectRoutedTo(a, duringB, duringBPod);
    const after = longSystemPrompt(800, 'after-outage');
    const afterPod = await serve(a, chat(after, 'first'));
    await expectRoutedTo(b, after, afterPod);
    await expectLoadShared(a, [b]);
    await expectLoadShared(b, [a]);
  });
});
