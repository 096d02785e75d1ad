/**
 * A burst spread over router replicas lands on the fleet as one router would place it: three
 * replicas routing on in-flight load (llm-d's active-request-scorer), an idle fleet of four pods,
 * and nine distinct long-running streams sent round-robin through the replicas a few
 * milliseconds apart. Shared in-flight counts (pushed to the peers at every dispatch) give the
 * optimum, 3/2/2/2, and every replica's load view matches what the engines run.
 *
 * The control run is the same burst through the same replicas without Redis. The replicas use
 * the same seed, so with only their own counts they make the same choices for their k-th
 * request: the first three requests all land on one pod, the next three on another, and so on —
 * 3/3/3/0. (With different seeds the outcome is random rather than always wrong.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Router } from '../../src/routing/router.ts';
import type { SimFleet } from '../../src/sim/server/sim-fleet.ts';
import { RedisProcess } from '../cluster/support/redis-process.ts';
import {
  ACTIVE_REQUEST_CONFIG,
  engineLoad,
  loadView,
  openStream,
  spread,
  stopAll,
  type OpenStream,
} from './support/replicas.ts';
import { sleep, startFleet, startRouter, waitFor } from './support/stack.ts';

const BURST = 9;
const GAP_MS = 20;
/** ~6.5 ms per token at speed 1: a stream lasts ~6 s, far longer than the burst and the checks. */
const MAX_TOKENS = 1000;

let redis: RedisProcess;
let fleet: SimFleet;

beforeAll(async () => {
  redis = await RedisProcess.start();
  fleet = await startFleet({ pods: 4, speed: 1 });
}, 30_000);

afterAll(async () => {
  await fleet?.stop();
  await redis?.stop();
});

/** Sends the burst round-robin through `replicas` and returns the streams, still in flight. */
async function burst(replicas: readonly Router[], tag: string): Promise<OpenStream[]> {
  const streams: Promise<OpenStream>[] = [];
  for (let i = 0; i < BURST; i++) {
    streams.push(
      openStream(replicas[i % replicas.length]!, `${tag} request ${i}: tell a long story`, MAX_TOKENS),
    );
    await sleep(GAP_MS);
  }
  return Promise.all(streams);
}

function perPod(streams: readonly OpenStream[]): number[] {
  return fleet.pods.map((pod) => streams.filter((s) => s.endpoint === pod.address).length);
}

async function finish(streams: readonly OpenStream[], replicas: readonly Router[]): Promise<void> {
  for (const s of streams) s.cancel();
  await Promise.all(streams.map((s) => s.done));
  await stopAll(replicas);
  await waitFor(() => engineLoad(fleet).every((n) => n === 0), 5_000, 'the engines to drain');
}

describe('a burst through three replicas', () => {
  it('is spread by the shared in-flight counts as one router would spread it', async () => {
    const cluster = { url: redis.url, keyPrefix: `kvedge-burst-${process.pid}:` };
    const replicas: Router[] = [];
    for (let i = 0; i < 3; i++) {
      replicas.push(
        await startRouter(fleet.pods, { cluster, seed: 7, schedulerConfig: ACTIVE_REQUEST_CONFIG }),
      );
    }
    let streams: OpenStream[] = [];
    try {
      streams = await burst(replicas, 'shared');
      const placed = perPod(streams);
      console.log(`[replicas-burst] shared in-flight: per-pod ${placed.join('/')}`);
      expect(placed.reduce((a, b) => a + b, 0)).toBe(BURST);
      // One router would give 3/2/2/2: at most one apart.
      expect(spread(placed)).toBeLessThanOrEqual(1);
      expect(engineLoad(fleet)).toEqual(placed);
      // Every replica routes on the whole fleet's load: its own count plus what its peers pushed.
      const pods = fleet.pods.map((p) => p.address);
      for (const replica of replicas) {
        await waitFor(
          async () => (await loadView(replica, pods)).join() === placed.join(),
          2_000,
          'a replica load view matching the engines',
        );
      }
    } finally {
      await finish(streams, replicas);
    }
  });

  it('control: without Redis each replica sees only its own load, and the burst piles up', async () => {
    const replicas: Router[] = [];
    for (let i = 0; i < 3; i++) {
      replicas.push(await startRouter(fleet.pods, { seed: 7, schedulerConfig: ACTIVE_REQUEST_CONFIG }));
    }
    let streams: OpenStream[] = [];
    try {
      streams = await burst(replicas, 'control');
      const placed = perPod(streams);
      console.log(`[replicas-burst] control (no Redis): per-pod ${placed.join('/')}`);
      expect([...placed].sort()).toEqual([0, 3, 3, 3]);
    } finally {
      await finish(streams, replicas);
    }
  });
});
