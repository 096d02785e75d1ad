/**
 * Siblings of one new prompt accepted by two acceptor threads of one router at the same moment
 * (four concurrent connections, spread by the kernel over the threads) land on one pod. A thread
 * reads its own speculative inserts at once, but another thread's only after the index owner has
 * applied them; placement claims in shared memory close that gap.
 *
 * The control is the same router with claims off, on `llm-d-precise` (random tie-breaks): some
 * prompts' siblings split. Without a tokenizer (`llm-d-well-lit`, approximate prefix history, which
 * reaches the other thread a macrotask late) the threads claim with the prompt's text hashes.
 */
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaticDiscovery } from '../../src/fleet/discovery/static-discovery.ts';
import type { Router } from '../../src/routing/router.ts';
import { namedConfigs } from '../../src/scheduler/config/defaults.ts';
import type { SimFleet } from '../../src/sim/server/sim-fleet.ts';
import { chat, endpointSpec, replicaMetric, startKvEventFleet } from './support/replicas.ts';
import { MODEL, longSystemPrompt, startRouter } from './support/stack.ts';

const PROMPTS = 8;
const SIBLINGS = 4;

let fleet: SimFleet;

beforeAll(async () => {
  fleet = await startKvEventFleet({ pods: 4 });
}, 30_000);

afterAll(async () => {
  await fleet?.stop();
});

type Path = 'precise' | 'approximate';

function start(placementClaims: boolean, seed: number, path: Path = 'precise'): Promise<Router> {
  return startRouter(fleet.pods, {
    discovery: new StaticDiscovery(endpointSpec(fleet)),
    ...(path === 'precise'
      ? { schedulerConfig: namedConfigs['llm-d-precise'], tokenizers: { [MODEL]: 'llama3_1' } }
      : { schedulerConfig: namedConfigs['llm-d-well-lit'] }),
    threads: 2,
    placementClaims,
    seed,
  });
}

/** Each new prompt sent on SIBLINGS connections at once; the pods that served each prompt's siblings. */
async function siblings(router: Router, tag: string): Promise<string[][]> {
  const pool = new Pool(`http://127.0.0.1:${router.port}`, { connections: SIBLINGS, pipelining: 0 });
  try {
    const placements: string[][] = [];
    for (let i = 0; i < PROMPTS; i++) {
      const body = JSON.stringify(chat(longSystemPrompt(1500, `${tag}-${i}`), 'solve it'));
      const pods = await Promise.all(
        Array.from({ length: SIBLINGS }, async () => {
          const response = await pool.request({
            path: '/v1/chat/completions',
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
          });
          await response.body.text();
          expect(response.statusCode).toBe(200);
          return String(response.headers['x-kvedge-endpoint']);
        }),
      );
      placements.push(pods);
    }
    return placements;
  } finally {
    await pool.close();
  }
}

const together = (placements: readonly string[][]): number =>
  placements.filter((pods) => new Set(pods).size === 1).length;

describe('sibling prompts through two acceptor threads at once', () => {
  for (const path of ['precise', 'approximate'] as const) {
    it(`split across pods without placement claims (control, ${path})`, async () => {
      const router = await start(false, 3, path);
      try {
        expect(together(await siblings(router, `off-${path}`))).toBeLessThan(PROMPTS);
      } finally {
        await router.stop(0);
      }
    });

    it(`land on one pod with placement claims in shared memory (${path})`, async () => {
      const router = await start(true, 3, path);
      try {
        const placements = await siblings(router, `on-${path}`);
        expect(placements.map((pods) => new Set(pods).size)).toEqual(Array(PROMPTS).fill(1));
        const outcomes = 'kvedge_placement_claims_total';
        expect(await replicaMetric(router, outcomes, { outcome: 'won' })).toBe(PROMPTS);
        const followed = 'kvedge_placement_claims_followed_total';
        expect(await replicaMetric(router, followed, { outcome: 'agreed' })).toBeGreaterThan(0);
        expect(await replicaMetric(router, followed, { outcome: 'overridden' })).toBe(0);
      } finally {
        await router.stop(0);
      }
    });
  }
});
