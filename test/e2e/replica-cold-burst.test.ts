/**
 * A burst of different new prompts reaching one replica while its placement claims wait on Redis.
 * Each is dispatched only after its claim's round trip, and the scheduler's plugins learn of a
 * placement at dispatch; decisions made in that round trip would all see the same fleet and go to
 * the same pod. Decisions take turns (src/routing/placement-turns.ts), so each one sees the
 * placements before it.
 *
 * The round trip is stretched with `CLIENT PAUSE … WRITE` (claims are scripts that write), so every
 * prompt of the burst is tokenized and ready to decide while the first claim waits. Routing is on
 * router-counted in-flight requests (`active-request-scorer`): three long streams keep three pods
 * busy, so a blind burst would all go to the fourth.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaticDiscovery } from '../../src/fleet/discovery/static-discovery.ts';
import type { Router } from '../../src/routing/router.ts';
import type { SimFleet } from '../../src/sim/server/sim-fleet.ts';
import { rawCommand, RedisProcess } from '../cluster/support/redis-process.ts';
import {
  ACTIVE_REQUEST_CONFIG,
  chat,
  chatUrl,
  endpointSpec,
  openStream,
  type OpenStream,
  replicaMetric,
  startKvEventFleet,
} from './support/replicas.ts';
import { MODEL, longSystemPrompt, postJson, startRouter } from './support/stack.ts';

/** Routing on router-counted load, with the precise producer that gives claims their block keys. */
const CONFIG = ACTIVE_REQUEST_CONFIG.replace(
  'plugins:\n',
  'plugins:\n- type: precise-prefix-cache-producer\n  parameters: {tokenProcessorConfig: {blockSizeTokens: 64}}\n',
);

const BURST = 6;

let redis: RedisProcess;
let fleet: SimFleet;
let router: Router;

beforeAll(async () => {
  redis = await RedisProcess.start();
  fleet = await startKvEventFleet({ pods: 4 });
  router = await startRouter(fleet.pods, {
    discovery: new StaticDiscovery(endpointSpec(fleet)),
    schedulerConfig: CONFIG,
    tokenizers: { [MODEL]: 'llama3_1' },
    // Claims and other commands may wait out the pause below (CI machines are slow too).
    cluster: {
      url: redis.url,
      keyPrefix: `kvedge-cold-${process.pid}:`,
      commandTimeoutMs: 3000,
      placementClaims: { timeoutMs: 1000 },
    },
  });
}, 30_000);

afterAll(async () => {
  await router?.stop(0);
  await fleet?.stop();
  await redis?.stop();
});

describe('a burst of new prompts at one replica', () => {
  it('is spread over the pods, each decision seeing the placements before it', async () => {
    const streams: OpenStream[] = [];
    try {
      for (let i = 0; i < 3; i++) streams.push(await openStream(router, `hold ${i}`, 5000));
      const busy = new Set(streams.map((s) => s.endpoint));
      expect(busy.size).toBe(3);

      const pause = rawCommand(redis.port, 'CLIENT PAUSE 800 WRITE');
      await pause;
      const finished: string[] = [];
      const burst = Promise.all(
        Array.from({ length: BURST }, (_, i) =>
          postJson(chatUrl(router), chat(longSystemPrompt(1500, `cold-${process.pid}-${i}`), 'go')).then(
            (response) => {
              finished.push('cold');
              return response;
            },
          ),
        ),
      );
      // A short prompt claims nothing, so it does not wait for the claims held up in Redis.
      const short = await postJson(chatUrl(router), chat('You are brief.', 'hi'));
      finished.push('short');
      expect(short.status).toBe(200);
      const responses = await burst;
      expect(finished[0]).toBe('short');
      for (const response of responses) expect(response.status).toBe(200);
      const pods = responses.map((r) => r.headers.get('x-kvedge-endpoint') ?? '');
      // In-flight counts start at 0 on the idle pod and 1 on the others: the first prompt goes to the
      // idle pod, the next four one to each pod, the last to any. Blind, all six go to the idle pod.
      expect(new Set(pods).size).toBe(4);
      expect(pods.filter((p) => !busy.has(p)).length).toBeLessThanOrEqual(3);
      expect(await replicaMetric(router, 'kvedge_cluster_placement_claims_won_total')).toBe(BURST);
      const waits = 'kvedge_placement_turn_waits_total';
      expect(await replicaMetric(router, waits, { outcome: 'served' })).toBeGreaterThan(0);
      expect(await replicaMetric(router, waits, { outcome: 'timed_out' })).toBe(0);
      // The waits are round trips of the paused claim and the ones queued behind it, recorded.
      expect(await replicaMetric(router, 'kvedge_placement_turn_wait_seconds_count')).toBe(
        await replicaMetric(router, waits, { outcome: 'served' }),
      );
    } finally {
      for (const s of streams) s.cancel();
      await Promise.all(streams.map((s) => s.done));
    }
  });
});
