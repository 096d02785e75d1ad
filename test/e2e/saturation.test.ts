/**
 * Saturation and admission through the real router: pods whose KV cache is above llm-d's 0.8
 * utilization threshold (long requests sent to each pod directly) make the pool saturated. A
 * request whose InferenceObjective has a negative priority must then be shed with 429, while a
 * normal request is still admitted and answered.
 * Objectives are configured through `RouterOptions.objectives` (`kvedge serve --objectives`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InferenceObjective } from '../../src/scheduler/admission/inference-objectives.ts';
import {
  MODEL,
  fleetDebug,
  longSystemPrompt,
  postJson,
  startStack,
  waitFor,
  type Stack,
} from './support/stack.ts';

const OBJECTIVES: readonly InferenceObjective[] = [
  { name: 'batch', priority: -1 },
  { name: 'interactive', priority: 10 },
];

let stack: Stack;
const hogs = new AbortController();

beforeAll(async () => {
  stack = await startStack(
    // 84 blocks of 16 tokens per pod; a ~1,110-token prompt holds 70 of them (0.83).
    { pods: 2, speed: 0.15, numGpuBlocks: 84, maxModelLen: 1344 },
    { objectives: OBJECTIVES },
  );
  // Saturate every pod directly (not through the router): one long request each.
  for (const [i, pod] of stack.pods.entries()) {
    void postJson(
      `http://${pod.address}/v1/chat/completions`,
      {
        model: MODEL,
        messages: [{ role: 'user', content: longSystemPrompt(440, `hog-${i}`) }],
        max_tokens: 120,
      },
      {},
      hogs.signal,
    ).catch(() => undefined);
  }
  await waitFor(
    async () =>
      (await fleetDebug(stack)).endpoints.every(
        (e) => e.healthy && (e.metrics?.kvCacheUsagePercent ?? 0) > 0.8,
      ),
    5_000,
    'every pod’s KV usage above 0.8 as the router sees it',
  );
}, 30_000);

afterAll(async () => {
  hogs.abort();
  await stack?.stop();
});

const shortChat = { model: MODEL, messages: [{ role: 'user', content: 'Ping?' }], max_tokens: 4 };

describe('admission while the pool is saturated', () => {
  it('still admits and answers a request without an objective, and one with a positive priority', async () => {
    const plain = await postJson(`${stack.baseUrl}/v1/chat/completions`, shortChat);
    expect(plain.status).toBe(200);
    const interactive = await postJson(`${stack.baseUrl}/v1/chat/completions`, shortChat, {
      'x-llm-d-inference-objective': 'interactive',
    });
    expect(interactive.status).toBe(200);
    // The saturation held throughout (the answers were not just the pods draining).
    const fleet = await fleetDebug(stack);
    for (const e of fleet.endpoints) expect(e.metrics!.kvCacheUsagePercent).toBeGreaterThan(0.8);
  });

  it('sheds a request whose objective has a negative priority with 429', async () => {
    const r = await postJson(`${stack.baseUrl}/v1/chat/completions`, shortChat, {
      'x-llm-d-inference-objective': 'batch',
    });
    expect(r.status).toBe(429);
    expect(r.body).toMatchObject({ error: { type: 'RateLimitError', code: 429 } });
  });
});
