/**
 * A router replica that crashes with requests in flight: replica C (`kvedge serve` in a child
 * process) holds six long streams sharing a system prompt, all on one pod P, when it is killed
 * with SIGKILL — nothing releases its in-flight counts in Redis. Replicas A and B, routing on
 * in-flight load, carry client traffic throughout. They keep C's phantom load on P until its
 * hash expires (TTL 1.5 s), then drop it: afterwards their load view matches what the engines
 * run, and a burst through them lands on P like on any other pod. No client of A or B sees an
 * error.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Router } from '../../src/routing/router.ts';
import type { SimFleet } from '../../src/sim/server/sim-fleet.ts';
import { RedisProcess } from '../cluster/support/redis-process.ts';
import {
  chat,
  endpointSpec,
  engineLoad,
  loadView,
  openStream,
  replicaMetric,
  RouterProcess,
  startTraffic,
  stopAll,
  type OpenStream,
} from './support/replicas.ts';
import { longSystemPrompt, sleep, startFleet, startRouter, waitFor } from './support/stack.ts';

/** Prefix affinity first (C's streams stick together), then in-flight load (llm-d's scorers). */
const CONFIG = `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: prefix-cache-scorer
- type: active-request-scorer
- type: max-score-picker
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: prefix-cache-scorer, weight: 3}
  - {pluginRef: active-request-scorer, weight: 1}
  - {pluginRef: max-score-picker}
`;
const DEAD_STREAMS = 6;
/** ~6.5 ms per token at speed 1: these outlive every check. */
const LONG = 3000;

let redis: RedisProcess;
let fleet: SimFleet;
let a: Router;
let b: Router;
let c: RouterProcess;
let dir: string;

beforeAll(async () => {
  redis = await RedisProcess.start();
  fleet = await startFleet({ pods: 4, speed: 1 });
  dir = mkdtempSync(join(tmpdir(), 'kvedge-crash-'));
  const configFile = join(dir, 'epp.yaml');
  writeFileSync(configFile, CONFIG);
  const keyPrefix = `kvedge-crash-${process.pid}:`;
  const cluster = { url: redis.url, keyPrefix };
  [a, b, c] = await Promise.all([
    startRouter(fleet.pods, { cluster, seed: 1, schedulerConfig: CONFIG }),
    startRouter(fleet.pods, { cluster, seed: 2, schedulerConfig: CONFIG }),
    RouterProcess.start([
      '--endpoints',
      endpointSpec(fleet),
      '--config',
      configFile,
      '--redis-url',
      redis.url,
      '--redis-prefix',
      keyPrefix,
      '--seed',
      '3',
    ]),
  ]);
}, 30_000);

afterAll(async () => {
  await c?.kill();
  await stopAll([a, b]);
  await fleet?.stop();
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const peerLoadOn = (r: Router, pod: string): Promise<number> =>
  replicaMetric(r, 'kvedge_endpoint_peer_inflight_requests', { endpoint: pod });

describe('a replica killed with requests in flight', () => {
  it('stops skewing the survivors once its counts expire; their clients see no error', async () => {
    const pods = fleet.pods.map((p) => p.address);
    const system = longSystemPrompt(600, 'doomed');
    const doomed: OpenStream[] = [];
    for (let i = 0; i < DEAD_STREAMS; i++) doomed.push(await openStream(c, `story ${i}`, LONG, system));
    const p = doomed[0]!.endpoint;
    expect(doomed.map((s) => s.endpoint)).toEqual(Array(DEAD_STREAMS).fill(p));
    for (const survivor of [a, b]) {
      await waitFor(
        async () => (await peerLoadOn(survivor, p)) === DEAD_STREAMS,
        3_000,
        "C's load in the view",
      );
    }

    const load = startTraffic([a, b], (i) => chat('Be brief.', `survivor question ${i}`), { lanes: 2 });
    await sleep(200);
    const killedAt = performance.now();
    await c.kill();
    // The pod drops C's requests with C's connections; the survivors cannot know yet.
    await waitFor(() => engineLoad(fleet)[pods.indexOf(p)] === 0, 2_000, 'the pod to drop the dead streams');
    expect(await peerLoadOn(a, p)).toBe(DEAD_STREAMS);
    await waitFor(
      async () => (await peerLoadOn(a, p)) === 0 && (await peerLoadOn(b, p)) === 0,
      5_000,
      "C's counts to expire",
    );
    const expiredAfterMs = performance.now() - killedAt;
    const result = await load.stop();
    const dead = (await Promise.all(doomed.map((s) => s.done))).filter((o) => !o.ok).length;
    console.log(
      `[replicas-crash] replica killed mid-load: survivors ${result.requests} requests, ${result.errors} client errors; ` +
        `${dead}/${DEAD_STREAMS} streams of the dead replica cut; its load expired after ${Math.round(expiredAfterMs)} ms`,
    );
    expect(result.failures).toEqual([]);
    expect(result.requests).toBeGreaterThan(20);
    // Expired by TTL (1.5 s after C's last refresh), not released: C never ran any shutdown code.
    expect(expiredAfterMs).toBeGreaterThan(1_000);
    expect(expiredAfterMs).toBeLessThan(3_500);

    // No lasting skew: a burst through the survivors spreads over every pod, P included, and their
    // load views match what the engines run.
    const burst: OpenStream[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        burst.push(await openStream(i % 2 ? a : b, `after the crash ${i}`, LONG));
        await sleep(20);
      }
      const placed = pods.map((pod) => burst.filter((s) => s.endpoint === pod).length);
      expect(placed).toEqual([2, 2, 2, 2]);
      expect(engineLoad(fleet)).toEqual(placed);
      for (const survivor of [a, b]) {
        await waitFor(
          async () => (await loadView(survivor, pods)).join() === placed.join(),
          2_000,
          'a survivor load view matching the engines',
        );
      }
    } finally {
      for (const s of burst) s.cancel();
      await Promise.all(burst.map((s) => s.done));
    }
  });
});
