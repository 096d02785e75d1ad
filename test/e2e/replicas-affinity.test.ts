/**
 * Three router replicas in front of one simulated fleet, sharing state through a real Redis: a
 * prefix first served through replica A is routed to the same pod when it arrives through B and
 * C, and that pod's engine reports the prefix as cached.
 * - Approximate mode (default config): B and C never saw the prompt; what they know of it is A's
 *   routing history, shared through Redis (their decision traces show the match).
 * - Precise mode (`llm-d-precise`, pods publishing KV events over ZeroMQ): every replica receives
 *   every pod's events but only the pod's lease holder applies them; the others' matches come
 *   from the cluster index mirror (checked through the ownership and mirror metrics), and a
 *   replica started after the events were published finds the prefix in the Redis snapshot.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaticDiscovery } from '../../src/fleet/discovery/static-discovery.ts';
import type { Router } from '../../src/routing/router.ts';
import { namedConfigs } from '../../src/scheduler/config/defaults.ts';
import type { SimFleet } from '../../src/sim/server/sim-fleet.ts';
import { RedisProcess } from '../cluster/support/redis-process.ts';
import {
  chat,
  chatUrl,
  endpointSpec,
  prefixMatch,
  replicaMetric,
  startKvEventFleet,
  stopAll,
} from './support/replicas.ts';
import { MODEL, longSystemPrompt, postJson, startFleet, startRouter, waitFor } from './support/stack.ts';

interface Usage {
  usage: { prompt_tokens: number; prompt_tokens_details: { cached_tokens: number } };
}

let redis: RedisProcess;

beforeAll(async () => {
  redis = await RedisProcess.start();
});

afterAll(async () => {
  await redis?.stop();
});

/** Serves `body` through `router`: the pod that served it and how much of the prompt was cached. */
async function serve(
  router: Router,
  body: unknown,
): Promise<{ pod: string; cached: number; prompt: number }> {
  const response = await postJson(chatUrl(router), body);
  expect(response.status).toBe(200);
  const { usage } = response.body as Usage;
  return {
    pod: response.headers.get('x-kvedge-endpoint') ?? '',
    cached: usage.prompt_tokens_details.cached_tokens,
    prompt: usage.prompt_tokens,
  };
}

/** Waits until `router` would route `body` to `pod` on at least 90% of the prompt's blocks. */
async function waitForMatch(router: Router, body: unknown, pod: string, path: string): Promise<void> {
  let last: unknown;
  await waitFor(
    async () => {
      const match = await prefixMatch(router, body);
      last = match;
      return match.path === path && (match.matched[pod] ?? 0) >= match.total * 0.9 && match.total > 0;
    },
    5_000,
    `a ${path} prefix match on ${pod}`,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; last trace: ${JSON.stringify(last)}`);
  });
}

describe('approximate mode (default config)', () => {
  let fleet: SimFleet;
  const replicas: Router[] = [];

  beforeAll(async () => {
    fleet = await startFleet({ pods: 4 });
    const cluster = { url: redis.url, keyPrefix: `kvedge-approx-${process.pid}:` };
    for (const seed of [1, 2, 3]) replicas.push(await startRouter(fleet.pods, { cluster, seed }));
  }, 30_000);

  afterAll(async () => {
    await stopAll(replicas);
    await fleet?.stop();
  });

  it('routes a prefix served through A to the same pod through B and C, from the shared history', async () => {
    const [a, b, c] = replicas as [Router, Router, Router];
    for (const topic of ['alpha', 'beta']) {
      const system = longSystemPrompt(1200, `approx-${topic}`);
      const first = await serve(a, chat(system, 'first question'));
      expect(first.cached).toBe(0);
      for (const [name, replica] of [
        ['B', b],
        ['C', c],
      ] as const) {
        // B and C never routed this prompt: only A's history, shared through Redis, can match it.
        await waitForMatch(replica, chat(system, `probe ${name}`), first.pod, 'approximate');
        const match = await prefixMatch(replica, chat(system, `probe ${name}`));
        expect(Object.keys(match.matched)).toEqual([first.pod]);
        const served = await serve(replica, chat(system, `question through ${name}`));
        expect(served.pod).toBe(first.pod);
        // The routing turned into a real engine prefix-cache hit.
        expect(served.cached).toBeGreaterThan(served.prompt * 0.8);
      }
    }
  });
});

describe('precise mode (llm-d-precise, KV events over ZeroMQ)', () => {
  let fleet: SimFleet;
  const replicas: Router[] = [];
  let late: Router | undefined;
  let startLate: () => Promise<Router>;

  beforeAll(async () => {
    fleet = await startKvEventFleet({ pods: 4 });
    const spec = endpointSpec(fleet);
    const cluster = { url: redis.url, keyPrefix: `kvedge-precise-${process.pid}:` };
    const start = (seed: number) =>
      startRouter(fleet.pods, {
        discovery: new StaticDiscovery(spec),
        schedulerConfig: namedConfigs['llm-d-precise'],
        tokenizers: { [MODEL]: 'llama3_1' },
        cluster,
        seed,
      });
    startLate = () => start(4);
    for (const seed of [1, 2, 3]) replicas.push(await start(seed));
  }, 30_000);

  afterAll(async () => {
    await stopAll([...replicas, late]);
    await fleet?.stop();
  });

  it('routes a prefix served through A to the same pod through B and C, from the cluster index', async () => {
    const [a, b, c] = replicas as [Router, Router, Router];
    const system = longSystemPrompt(1000, 'precise');
    const first = await serve(a, chat(system, 'first question'));
    const pod = first.pod;

    // The pod's events were applied once for the cluster, by the replica holding its lease.
    let owners: Router[] = [];
    await waitFor(async () => {
      const owned = await Promise.all(
        replicas.map((r) => replicaMetric(r, 'kvedge_cluster_owned_pods', { endpoint: pod })),
      );
      owners = replicas.filter((_, i) => owned[i] === 1);
      return owners.length === 1;
    }, 5_000);
    const followers = replicas.filter((r) => r !== owners[0]);
    expect(followers).toHaveLength(2);

    for (const [name, replica] of [
      ['B', b],
      ['C', c],
    ] as const) {
      await waitForMatch(replica, chat(system, `probe ${name}`), pod, 'precise');
    }
    for (const follower of followers) {
      // A follower received the pod's batches too but did not apply them; its match came from the
      // change stream of the index shared through Redis.
      expect(await replicaMetric(follower, 'kvedge_cluster_batches_followed_total')).toBeGreaterThan(0);
      expect(await replicaMetric(follower, 'kvedge_cluster_batches_owned_total')).toBe(0);
      expect(await replicaMetric(follower, 'kvedge_cluster_changes_applied_total')).toBeGreaterThan(0);
      await waitForMatch(follower, chat(system, 'follower probe'), pod, 'precise');
    }
    for (const [name, replica] of [
      ['B', b],
      ['C', c],
    ] as const) {
      const served = await serve(replica, chat(system, `question through ${name}`));
      expect(served.pod).toBe(pod);
      expect(served.cached).toBeGreaterThan(served.prompt * 0.8);
    }
  });

  it('gives a replica started after the events were published the prefix, from the Redis snapshot', async () => {
    const system = longSystemPrompt(1000, 'precise-late');
    const first = await serve(replicas[0]!, chat(system, 'first question'));
    await waitForMatch(replicas[1]!, chat(system, 'probe'), first.pod, 'precise');
    // ZeroMQ does not replay what was published before a subscriber connected (and the pods'
    // replay sockets are off): the new replica can only know the prefix through Redis.
    late = await startLate();
    await waitForMatch(late, chat(system, 'late probe'), first.pod, 'precise');
    expect(await replicaMetric(late, 'kvedge_cluster_pod_resyncs_total')).toBeGreaterThan(0);
    const served = await serve(late, chat(system, 'question through the late replica'));
    expect(served.pod).toBe(first.pod);
    expect(served.cached).toBeGreaterThan(served.prompt * 0.8);
  });
});
