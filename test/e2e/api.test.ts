/**
 * The OpenAI API through the real router to real simulated pods: chat and completions, streaming
 * and not, with the official openai client; request ids end to end; the endpoint header naming
 * the pod that actually served; GET /v1/models as the union of what the pods serve (and requests
 * for a model only one pod serves routed to that pod); /health and /ready.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Router } from '../../src/routing/router.ts';
import type { SimFleet } from '../../src/sim/server/sim-fleet.ts';
import type { SimPod } from '../../src/sim/server/sim-pod.ts';
import { MODEL, startFleet, startRouter, waitFor, type Stack, stackOf } from './support/stack.ts';

let sqlFleet: SimFleet;
let chatFleet: SimFleet;
let router: Router;
let stack: Stack;
let pods: SimPod[];

beforeAll(async () => {
  // Two one-pod fleets serving the same base model with different LoRA adapters.
  [sqlFleet, chatFleet] = await Promise.all([
    startFleet({ pods: 1, loraModules: ['sql-lora'] }),
    startFleet({ pods: 1, loraModules: ['chat-lora'] }),
  ]);
  pods = [...sqlFleet.pods, ...chatFleet.pods];
  router = await startRouter(pods);
  stack = stackOf(sqlFleet, router);
  // /v1/models of each pod is polled by the router's scrapers; wait until both were read.
  await waitFor(
    async () => {
      const response = await fetch(`${stack.baseUrl}/v1/models`);
      const body = (await response.json()) as { data: { id: string }[] };
      return body.data.length === 3;
    },
    10_000,
    'the router to learn both pods’ models',
  );
}, 30_000);

afterAll(async () => {
  await router?.stop(1_000);
  await Promise.all([sqlFleet?.stop(), chatFleet?.stop()]);
});

/** The pod behind an endpoint header value; fails the test when it names no pod. */
function servedBy(endpointHeader: string | null): SimPod {
  const pod = pods.find((p) => p.address === endpointHeader);
  expect(pod, `endpoint header ${endpointHeader} names a pod`).toBeDefined();
  return pod!;
}

describe('chat completions through the router', () => {
  it('answers a non-streaming chat, keeping the client’s x-request-id end to end', async () => {
    const { data, response } = await stack
      .openai()
      .chat.completions.create(
        { model: MODEL, messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: 7 },
        { headers: { 'x-request-id': 'e2e-chat-1' } },
      )
      .withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toBe('e2e-chat-1');
    // The pod names its completion after the request id it received: the id reached the pod.
    expect(data.id).toBe('chatcmpl-e2e-chat-1');
    expect(data.choices[0]?.message.role).toBe('assistant');
    expect(data.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(data.choices[0]?.finish_reason).toBe('length');
    expect(data.usage?.completion_tokens).toBe(7);
    expect(data.usage?.prompt_tokens).toBeGreaterThan(5);
    // The endpoint header names the pod that answered (the pod labels its own responses).
    const pod = servedBy(response.headers.get('x-kvedge-endpoint'));
    expect(response.headers.get('x-kvedge-sim-pod')).toBe(pod.config.name);
  });

  it('streams a chat completion with usage, and generates a request id when none is given', async () => {
    const { data: stream, response } = await stack
      .openai()
      .chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'Count to five.' }],
        max_tokens: 12,
        stream: true,
        stream_options: { include_usage: true },
      })
      .withResponse();
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const requestId = response.headers.get('x-request-id');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    let text = '';
    let chunks = 0;
    let finish: string | null | undefined;
    let completionTokens: number | undefined;
    const ids = new Set<string>();
    for await (const chunk of stream) {
      ids.add(chunk.id);
      chunks++;
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) completionTokens = chunk.usage.completion_tokens;
    }
    expect(chunks).toBeGreaterThanOrEqual(12);
    expect(text.length).toBeGreaterThan(0);
    expect(finish).toBe('length');
    expect(completionTokens).toBe(12);
    expect([...ids]).toEqual([`chatcmpl-${requestId}`]);
    const pod = servedBy(response.headers.get('x-kvedge-endpoint'));
    expect(response.headers.get('x-kvedge-sim-pod')).toBe(pod.config.name);
  });

  it('shows in /debug/fleet what the picker learned of each pod (after the streamed requests above)', async () => {
    const response = await fetch(`${stack.adminUrl}/debug/fleet`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      plugins: Record<
        string,
        {
          fleetRates: { secondsPerToken: number; stepSeconds: number; samples: number };
          endpoints: Record<
            string,
            {
              costedWith: { secondsPerToken: number; source: string };
              pendingPrefills: number;
              outstanding: number;
            }
          >;
        }
      >;
    };
    const picker = body.plugins['kvedge-picker']!;
    // The streamed chat completion had an idle pod to itself: a prefill sample.
    expect(picker.fleetRates.samples).toBeGreaterThanOrEqual(1);
    expect(Object.keys(picker.endpoints).sort()).toEqual(pods.map((p) => p.address).sort());
    for (const e of Object.values(picker.endpoints)) {
      expect(e.costedWith.secondsPerToken).toBeGreaterThan(0);
      expect(['fleet', 'own']).toContain(e.costedWith.source);
      expect([e.pendingPrefills, e.outstanding]).toEqual([0, 0]);
    }
  });

  it('replaces an unusable x-request-id with a fresh one', async () => {
    const response = await fetch(`${stack.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'x'.repeat(200) },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }),
    });
    expect(response.status).toBe(200);
    const id = response.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(((await response.json()) as { id: string }).id).toBe(`chatcmpl-${id}`);
  });
});

describe('completions through the router', () => {
  it('answers a non-streaming completion', async () => {
    const { data, response } = await stack
      .openai()
      .completions.create(
        { model: MODEL, prompt: 'Once upon a time', max_tokens: 6 },
        { headers: { 'x-request-id': 'e2e-cmpl-1' } },
      )
      .withResponse();
    expect(data.id).toBe('cmpl-e2e-cmpl-1');
    expect(data.object).toBe('text_completion');
    expect(data.choices[0]?.text.length).toBeGreaterThan(0);
    expect(data.usage?.completion_tokens).toBe(6);
    expect(response.headers.get('x-request-id')).toBe('e2e-cmpl-1');
    servedBy(response.headers.get('x-kvedge-endpoint'));
  });

  it('streams a completion to [DONE]', async () => {
    const { data: stream, response } = await stack
      .openai()
      .completions.create({ model: MODEL, prompt: 'The quick brown fox', max_tokens: 9, stream: true })
      .withResponse();
    let text = '';
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(finish).toBe('length');
    servedBy(response.headers.get('x-kvedge-endpoint'));
  });
});

describe('models and probes', () => {
  it('lists the union of the models the pods serve', async () => {
    const models = await stack.openai().models.list();
    expect(models.data.map((m) => m.id).sort()).toEqual(['chat-lora', MODEL, 'sql-lora'].sort());
  });

  it('routes a model only one pod serves to that pod', async () => {
    for (const [model, pod] of [
      ['sql-lora', sqlFleet.pods[0]!],
      ['chat-lora', chatFleet.pods[0]!],
    ] as const) {
      for (let i = 0; i < 3; i++) {
        const { data, response } = await stack
          .openai()
          .chat.completions.create({ model, messages: [{ role: 'user', content: `q${i}` }], max_tokens: 2 })
          .withResponse();
        expect(data.model).toBe(model);
        expect(response.headers.get('x-kvedge-endpoint')).toBe(pod.address);
      }
    }
  });

  it('answers /health and /ready', async () => {
    const health = await fetch(`${stack.baseUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${stack.baseUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });
});
