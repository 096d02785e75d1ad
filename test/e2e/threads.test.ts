/**
 * Two acceptor threads behind one port: a burst of concurrent requests (connections spread by the
 * kernel over both threads) all succeed; in-flight accounting is shared (admin /debug/fleet,
 * served by the main thread from shared memory, shows the burst in flight and back to 0 after);
 * metrics are summed over the threads; prefix affinity holds across threads.
 */
import { Client, Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MODEL,
  adminMetrics,
  chatBody,
  fleetDebug,
  longSystemPrompt,
  metricSum,
  sleep,
  startStack,
  waitFor,
  type Stack,
} from './support/stack.ts';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ pods: 3 }, { threads: 2 });
}, 30_000);

afterAll(async () => {
  await stack?.stop();
});

const inflightTotal = async (): Promise<number> =>
  (await fleetDebug(stack)).endpoints.reduce((sum, e) => sum + e.inflight.requests, 0);

describe('two acceptor threads', () => {
  it('serve a concurrent burst, with in-flight accounting shared by both threads', async () => {
    const BURST = 40;
    for (const pod of stack.pods) pod.faultState.update({ addedLatencyMs: 800 });
    const pool = new Pool(stack.baseUrl, { connections: BURST });
    try {
      const burst = Promise.all(
        Array.from({ length: BURST }, async (_, i) => {
          const { statusCode, headers, body } = await pool.request({
            path: '/v1/chat/completions',
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(chatBody(`burst ${i}`, { max_tokens: 3 })),
          });
          const json = (await body.json()) as { choices: unknown[] };
          return { statusCode, endpoint: String(headers['x-kvedge-endpoint']), choices: json.choices.length };
        }),
      );
      let peak = 0;
      let settled = false;
      void burst.finally(() => (settled = true));
      while (!settled) {
        peak = Math.max(peak, await inflightTotal());
        await sleep(20);
      }
      const results = await burst;
      expect(results.every((r) => r.statusCode === 200 && r.choices === 1)).toBe(true);
      // Both threads' dispatches show up in the one table the main thread reads.
      expect(peak).toBeGreaterThanOrEqual(BURST * 0.75);
      expect(peak).toBeLessThanOrEqual(BURST);
      // Spread over the pods by load (queue and in-flight), not all on one.
      expect(new Set(results.map((r) => r.endpoint)).size).toBeGreaterThan(1);
      await waitFor(async () => (await inflightTotal()) === 0, 3_000, 'in-flight to return to 0');
      for (const e of (await fleetDebug(stack)).endpoints)
        expect(e.inflight).toEqual({ requests: 0, tokens: 0 });

      const metrics = await adminMetrics(stack);
      expect(metricSum(metrics, 'kvedge_requests_total', { status: '200' })).toBe(BURST);
      expect(metricSum(metrics, 'kvedge_inflight_requests')).toBe(0);
    } finally {
      for (const pod of stack.pods) pod.faultState.reset();
      await pool.close();
    }
  });

  it('keeps prefix affinity across threads (each request on a new connection)', async () => {
    const system = longSystemPrompt(1_200, 'threads');
    const endpoints: string[] = [];
    const cached: number[] = [];
    for (let i = 0; i < 8; i++) {
      // A fresh connection per request: the kernel picks the thread anew each time.
      const client = new Client(stack.baseUrl);
      try {
        const { statusCode, headers, body } = await client.request({
          path: '/v1/chat/completions',
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            model: MODEL,
            messages: [
              { role: 'system', content: system },
              { role: 'user', content: `Question ${i}?` },
            ],
            max_tokens: 2,
          }),
        });
        const json = (await body.json()) as { usage: { prompt_tokens_details: { cached_tokens: number } } };
        expect(statusCode).toBe(200);
        endpoints.push(String(headers['x-kvedge-endpoint']));
        cached.push(json.usage.prompt_tokens_details.cached_tokens);
      } finally {
        await client.close();
      }
    }
    expect(new Set(endpoints).size).toBe(1);
    expect(cached[0]).toBe(0);
    for (const hit of cached.slice(1)) expect(hit).toBeGreaterThan(2_500);
  });
});
