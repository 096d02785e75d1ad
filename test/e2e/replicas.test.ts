/**
 * Two router replicas sharing routing state through a real Redis (a redis-server this test
 * starts on a free port): a prefix first served through replica A is routed to the same pod when
 * it arrives through replica B, and each replica sees the other's in-flight requests. Killing
 * Redis does not make clients see errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Router } from '../../src/routing/router.ts';
import type { SimFleet } from '../../src/sim/server/sim-fleet.ts';
import { RedisProcess } from '../cluster/support/redis-process.ts';
import { longSystemPrompt, postJson, startFleet, startRouter } from './support/stack.ts';

const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';
const chat = (system: string, question: string) => ({
  model: MODEL,
  messages: [
    { role: 'system', content: system },
    { role: 'user', content: question },
  ],
  max_tokens: 4,
});

let fleet: SimFleet;
let redis: RedisProcess;
let a: Router;
let b: Router;

beforeAll(async () => {
  redis = await RedisProcess.start();
  fleet = await startFleet({ pods: 4 });
  const cluster = { url: redis.url, keyPrefix: `kvedge-e2e-${process.pid}:` };
  a = await startRouter(fleet.pods, { cluster, seed: 1 });
  b = await startRouter(fleet.pods, { cluster, seed: 2 });
}, 60_000);

afterAll(async () => {
  await a?.stop(0);
  await b?.stop(0);
  await fleet?.stop();
  await redis?.kill();
});

const url = (r: Router) => `http://127.0.0.1:${r.port}/v1/chat/completions`;

describe('router replicas sharing state through Redis', () => {
  it('route a prefix served through one replica to the same pod through the other', async () => {
    const system = longSystemPrompt(2500, 'replicas');
    const servedBy: string[] = [];
    for (let i = 0; i < 4; i++) {
      const first = await postJson(url(a), chat(system, `question A${i}`));
      expect(first.status).toBe(200);
      servedBy.push(first.headers.get('x-kvedge-endpoint')!);
      // Let the dispatch record reach the other replica (pub/sub), as a real follow-up would.
      await new Promise((r) => setTimeout(r, 150));
      const second = await postJson(url(b), chat(system, `question B${i}`));
      expect(second.status).toBe(200);
      servedBy.push(second.headers.get('x-kvedge-endpoint')!);
    }
    expect(new Set(servedBy).size).toBe(1);
  });

  it('keep serving without client errors when Redis dies', async () => {
    await redis.kill();
    const statuses = await Promise.all(
      Array.from({ length: 8 }, (_, i) => postJson(url(i % 2 ? a : b), chat('short prompt', `q${i}`))),
    );
    expect(statuses.map((r) => r.status)).toEqual(Array(8).fill(200));
  });
});
