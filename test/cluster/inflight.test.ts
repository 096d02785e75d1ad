import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterState } from '../../src/cluster/cluster-state.ts';
import type { EndpointSnapshot, FleetView } from '../../src/fleet/types.ts';
import { RedisProcess, waitFor } from './support/redis-process.ts';
import { startReplicas, testConfig } from './support/replicas.ts';

const EP1 = '10.0.0.1:8000';
const EP2 = '10.0.0.2:8000';

let redis: RedisProcess;
let admin: Redis;
const running: ClusterState[] = [];

beforeAll(async () => {
  redis = await RedisProcess.start();
  admin = new Redis(redis.port, '127.0.0.1');
});

afterAll(async () => {
  admin.disconnect();
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

function endpoint(id: string, requests: number, tokens: number): EndpointSnapshot {
  return {
    info: { id, host: id.split(':')[0]!, port: 8000, labels: {}, models: [] },
    healthy: true,
    metrics: null,
    inflight: { requests, tokens },
    servedModels: [],
  };
}

describe('shared in-flight load', () => {
  it('pushes a dispatch to the other replicas at once, without waiting for their poll', async () => {
    // Polling every 30 s: only the dispatch-time push can deliver within the wait below.
    const [a, b] = await replicas(
      2,
      testConfig({ inflight: { pollIntervalMs: 30_000, publishIntervalMs: 30_000 } }),
    );
    a!.inflight.acquire(EP1, 1200);
    await waitFor(() => b!.inflight.peers(EP1).requests === 1, 1000, 2);
    expect(b!.inflight.peers(EP1)).toEqual({ requests: 1, tokens: 1200 });
    expect(b!.inflight.total(EP1)).toEqual({ requests: 1, tokens: 1200 });
    b!.inflight.acquire(EP1, 300);
    expect(b!.inflight.total(EP1)).toEqual({ requests: 2, tokens: 1500 });
    await waitFor(() => a!.inflight.peers(EP1).requests === 1, 1000, 2);
    a!.inflight.release(EP1, 1200);
    await waitFor(() => b!.inflight.peers(EP1).requests === 0, 1000, 2);
  });

  it('sums three replicas exactly while pushes and polls interleave', async () => {
    const [a, b, c] = await replicas(3);
    for (let i = 0; i < 50; i++) {
      a!.inflight.acquire(EP1, 10);
      b!.inflight.acquire(i % 2 ? EP1 : EP2, 20);
      if (i % 5 === 4) a!.inflight.release(EP1, 10);
      if (i % 10 === 0) await delay(7); // let polls land between pushes
    }
    // a: 50 - 10 = 40 on EP1 (400 tokens); b: 25 on EP1 (500), 25 on EP2 (500).
    await waitFor(
      () => c!.inflight.peers(EP1).requests === 65 && c!.inflight.peers(EP2).requests === 25,
      3000,
    );
    // Stable across several more poll rounds: nothing counted twice, nothing lost.
    await delay(300);
    expect(c!.inflight.peers(EP1)).toEqual({ requests: 65, tokens: 900 });
    expect(c!.inflight.peers(EP2)).toEqual({ requests: 25, tokens: 500 });
    expect(a!.inflight.peers(EP1)).toEqual({ requests: 25, tokens: 500 });
    expect(a!.inflight.total(EP1)).toEqual({ requests: 65, tokens: 900 });

    const view: FleetView = {
      nowMs: 0,
      endpoints: [endpoint(EP1, 1, 5), endpoint(EP2, 0, 0), endpoint('x:1', 2, 2)],
    };
    const merged = c!.inflight.withPeers(view);
    expect(merged.endpoints.map((e) => e.inflight)).toEqual([
      { requests: 66, tokens: 905 },
      { requests: 25, tokens: 500 },
      { requests: 2, tokens: 2 },
    ]);
    expect(merged.endpoints[2]).toBe(view.endpoints[2]);
  });

  it("lets a crashed replica's counts expire, and a closed one's vanish", async () => {
    const config = testConfig();
    const [a, b, c] = await replicas(3, config);
    a!.inflight.acquire(EP1, 100);
    a!.inflight.acquire(EP1, 100);
    b!.inflight.acquire(EP1, 50);
    await waitFor(() => c!.inflight.peers(EP1).requests === 3, 2000);

    a!.destroy(); // sockets destroyed, nothing cleaned up
    running.splice(running.indexOf(a!), 1);
    expect(await admin.exists(`${config.keyPrefix}{load}:inflight:r0`)).toBe(1);
    await waitFor(() => c!.inflight.peers(EP1).requests === 1, 3000);
    expect(await admin.exists(`${config.keyPrefix}{load}:inflight:r0`)).toBe(0);
    expect(c!.inflight.peers(EP1)).toEqual({ requests: 1, tokens: 50 });

    await b!.close();
    running.splice(running.indexOf(b!), 1);
    expect(await admin.exists(`${config.keyPrefix}{load}:inflight:r1`)).toBe(0);
    await waitFor(() => c!.inflight.peers(EP1).requests === 0, 1000);
  });
});
