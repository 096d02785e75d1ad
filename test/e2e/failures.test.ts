/**
 * Failures through the real router and real pods:
 * - a pod that fails before the first byte (503 fault, crash) → the request is retried on another
 *   pod and the client sees a success, both with a picker that returns fallbacks and with the
 *   default config (whose picker names one endpoint: the router adds the other scored candidates);
 * - a pod that stalls or crashes mid-stream → the client gets a clean error event (the openai
 *   client raises APIError), and the router keeps serving;
 * - a crashed pod is marked unhealthy once its scrapes fail and healthy again after a restart;
 * - no healthy endpoint (whole fleet down, or an empty fleet) → 503 with an OpenAI error body.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APIError } from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FileDiscovery } from '../../src/fleet/discovery/file-discovery.ts';
import { writeFleetFile } from '../../src/fleet/discovery/fleet-file.ts';
import type { Router } from '../../src/routing/router.ts';
import type { SimFleet } from '../../src/sim/server/sim-fleet.ts';
import {
  MODEL,
  adminMetrics,
  fleetDebug,
  longSystemPrompt,
  metricSum,
  postJson,
  silentLogger,
  stackOf,
  startFleet,
  startRouter,
  waitFor,
  type RouterStartOptions,
  type Stack,
} from './support/stack.ts';

/** The default weights, with a picker that also names the runner-up (retry candidate). */
const WITH_FALLBACK_YAML = `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: queue-scorer
- type: kv-cache-utilization-scorer
- type: prefix-cache-scorer
- type: max-score-picker
  parameters: {maxNumOfEndpoints: 2}
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: queue-scorer, weight: 2}
  - {pluginRef: kv-cache-utilization-scorer, weight: 2}
  - {pluginRef: prefix-cache-scorer, weight: 3}
  - {pluginRef: max-score-picker}
`;

let fleet: SimFleet;
const routers: Router[] = [];

beforeAll(async () => {
  fleet = await startFleet({ pods: 3 });
}, 30_000);

afterAll(async () => {
  await fleet?.stop();
});

afterEach(async () => {
  await Promise.all(routers.splice(0).map((r) => r.stop(500)));
  for (const pod of fleet.pods) {
    pod.faultState.reset();
    if (!pod.isUp) await pod.restart();
  }
});

async function stackWith(options: RouterStartOptions = {}): Promise<Stack> {
  const router = await startRouter(fleet.pods, options);
  routers.push(router);
  return stackOf(fleet, router);
}

/** A chat request with its own long system prompt, so the router's prefix affinity pins it. */
function pinned(tag: string, extra: Record<string, unknown> = {}) {
  return {
    model: MODEL,
    messages: [
      { role: 'system' as const, content: longSystemPrompt(600, tag) },
      { role: 'user' as const, content: `Question about ${tag}.` },
    ],
    max_tokens: 4,
    ...extra,
  };
}

/** Send `body` once and return the pod that served it (the router now has affinity to it). */
async function prime(stack: Stack, body: object): Promise<string> {
  const r = await postJson(`${stack.baseUrl}/v1/chat/completions`, body);
  expect(r.status).toBe(200);
  return r.headers.get('x-kvedge-endpoint')!;
}

async function healthOf(stack: Stack, id: string): Promise<boolean | undefined> {
  return (await fleetDebug(stack)).endpoints.find((e) => e.id === id)?.healthy;
}

describe('failures before the first byte are retried on another pod', () => {
  it('a 503 from the pinned pod is retried on another pod; the client sees a success', async () => {
    const stack = await stackWith({ schedulerConfig: WITH_FALLBACK_YAML });
    const body = pinned('retry-503');
    const pinnedPod = await prime(stack, body);
    stack.pod(pinnedPod).faultState.update({ errorRate: 1, errorStatus: 503 });

    const { data, response } = await stack.openai().chat.completions.create(body).withResponse();
    expect(response.status).toBe(200);
    expect(data.choices[0]?.message.content?.length).toBeGreaterThan(0);
    const servedBy = response.headers.get('x-kvedge-endpoint');
    expect(servedBy).not.toBe(pinnedPod);
    expect(stack.pods.map((p) => p.address)).toContain(servedBy);
    const metrics = await adminMetrics(stack);
    expect(metricSum(metrics, 'kvedge_retries_total', { reason: 'status' })).toBe(1);
  });

  it('a pod that crashed before the request is retried on another pod', async () => {
    // Scrapes far apart: the router still believes the crashed pod is healthy and picks it.
    const stack = await stackWith({ schedulerConfig: WITH_FALLBACK_YAML, scrapeIntervalMs: 60_000 });
    const body = pinned('retry-crash');
    const pinnedPod = await prime(stack, body);
    await stack.pod(pinnedPod).crash();
    expect(await healthOf(stack, pinnedPod)).toBe(true);

    const { data, response } = await stack.openai().chat.completions.create(body).withResponse();
    expect(data.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(response.headers.get('x-kvedge-endpoint')).not.toBe(pinnedPod);
    const metrics = await adminMetrics(stack);
    expect(metricSum(metrics, 'kvedge_retries_total')).toBe(1);
  });

  // The pod that answered after a retry now holds the prompt's KV: follow-ups must be able to prefer it.
  it('after a retry, the prefix is credited to the pod that served it', async () => {
    const stack = await stackWith({ schedulerConfig: WITH_FALLBACK_YAML });
    const body = pinned('retry-credit');
    const pinnedPod = await prime(stack, body);
    stack.pod(pinnedPod).faultState.update({ errorRate: 1, errorStatus: 503 });
    const retried = await postJson(`${stack.baseUrl}/v1/chat/completions`, body);
    expect(retried.status).toBe(200);
    const servedBy = retried.headers.get('x-kvedge-endpoint')!;
    expect(servedBy).not.toBe(pinnedPod);

    const explained = await postJson(`${stack.adminUrl}/debug/route`, body);
    const summary = (
      explained.body as { trace: { producers: { summary: { matchedBlocks: Record<string, number> } }[] } }
    ).trace.producers[0]!.summary;
    expect(summary.matchedBlocks[servedBy] ?? 0).toBeGreaterThan(0);
  });

  // Under the default config max-score-picker names one endpoint (maxNumOfEndpoints 1); the router
  // still retries on the next-best scored candidate.
  it('default config: a 503 before the first byte is retried on another pod', async () => {
    const stack = await stackWith();
    const body = pinned('default-503');
    const pinnedPod = await prime(stack, body);
    stack.pod(pinnedPod).faultState.update({ errorRate: 1, errorStatus: 503 });
    const r = await postJson(`${stack.baseUrl}/v1/chat/completions`, body);
    expect(r.status).toBe(200);
  });

  it('default config: a crashed pod is retried on another pod', async () => {
    const stack = await stackWith({ scrapeIntervalMs: 60_000 });
    const body = pinned('default-crash');
    const pinnedPod = await prime(stack, body);
    await stack.pod(pinnedPod).crash();
    const r = await postJson(`${stack.baseUrl}/v1/chat/completions`, body);
    expect(r.status).toBe(200);
  });
});

describe('failures after the first byte', () => {
  it('a stream that stalls ends with an error event; the router keeps serving', async () => {
    const stack = await stackWith({ edge: { upstream: { idleTimeoutMs: 400 } } });
    for (const pod of fleet.pods) pod.faultState.update({ stallAfterTokens: 3, stallMs: 5_000 });
    const stream = await stack.openai().chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Tell me a long story.' }],
      max_tokens: 30,
      stream: true,
    });
    let text = '';
    let finish: string | null = null;
    const failure = await (async () => {
      try {
        for await (const chunk of stream) {
          text += chunk.choices[0]?.delta.content ?? '';
          finish = chunk.choices[0]?.finish_reason ?? finish;
        }
      } catch (error) {
        return error;
      }
      return null;
    })();
    expect(failure).toBeInstanceOf(APIError);
    expect((failure as APIError).message).toMatch(/timed out/);
    expect(text.length).toBeGreaterThan(0); // the first tokens did arrive
    expect(finish).toBeNull();
    expect(
      metricSum(await adminMetrics(stack), 'kvedge_upstream_errors_total', { kind: 'idle_timeout' }),
    ).toBe(1);

    for (const pod of fleet.pods) pod.faultState.reset();
    const after = await stack.openai().chat.completions.create(pinned('after-stall'));
    expect(after.choices[0]?.finish_reason).toBe('length');
  });

  it('a pod that crashes mid-stream: error event for that client, others served, pod marked unhealthy then recovered', async () => {
    const stack = await stackWith();
    for (const pod of fleet.pods) pod.faultState.update({ stallAfterTokens: 2, stallMs: 10_000 });
    const { data: stream, response } = await stack
      .openai()
      .chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'Tell me a long story.' }],
        max_tokens: 30,
        stream: true,
      })
      .withResponse();
    const crashedId = response.headers.get('x-kvedge-endpoint')!;
    const crashed = stack.pod(crashedId);
    let chunks = 0;
    const failure = await (async () => {
      try {
        for await (const _chunk of stream) {
          // Crash the pod while it holds the rest of the stream.
          if (++chunks === 2) await crashed.crash();
        }
      } catch (error) {
        return error;
      }
      return null;
    })();
    expect(chunks).toBeGreaterThanOrEqual(2);
    expect(failure).toBeInstanceOf(APIError);
    expect((failure as APIError).message).toContain(crashedId);
    for (const pod of fleet.pods) pod.faultState.reset();

    // Scrapes of the crashed pod fail: it is marked unhealthy, and requests go to the others.
    await waitFor(
      async () => (await healthOf(stack, crashedId)) === false,
      5_000,
      'the pod to turn unhealthy',
    );
    for (let i = 0; i < 4; i++) {
      const { response: r } = await stack
        .openai()
        .chat.completions.create(pinned(`other-${i}`))
        .withResponse();
      expect(r.headers.get('x-kvedge-endpoint')).not.toBe(crashedId);
    }

    await crashed.restart();
    await waitFor(async () => (await healthOf(stack, crashedId)) === true, 5_000, 'the pod to recover');
    const ready = await fetch(`${stack.baseUrl}/ready`);
    expect(ready.status).toBe(200);
  });
});

describe('no healthy endpoint', () => {
  it('answers 503 with an OpenAI error body when every pod is down, and recovers', async () => {
    const stack = await stackWith();
    await Promise.all(fleet.pods.map((p) => p.crash()));
    await waitFor(async () => (await fetch(`${stack.baseUrl}/ready`)).status === 503, 5_000, '/ready 503');

    const r = await postJson(`${stack.baseUrl}/v1/chat/completions`, pinned('all-down'));
    expect(r.status).toBe(503);
    expect(r.body).toEqual({
      error: {
        message: expect.stringMatching(/no healthy endpoint/),
        type: 'ServiceUnavailableError',
        param: null,
        code: 503,
      },
    });
    const streamed = await stack
      .openai()
      .chat.completions.create({ ...pinned('all-down'), stream: true })
      .then(
        () => null,
        (error: unknown) => error,
      );
    expect(streamed).toBeInstanceOf(APIError);
    expect((streamed as APIError).status).toBe(503);

    await Promise.all(fleet.pods.map((p) => p.restart()));
    await waitFor(async () => (await fetch(`${stack.baseUrl}/ready`)).status === 200, 5_000, '/ready 200');
    const ok = await postJson(`${stack.baseUrl}/v1/chat/completions`, pinned('all-back'));
    expect(ok.status).toBe(200);
  });

  it('answers 503 for an empty fleet, then routes once the fleet file lists a pod', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kvedge-e2e-'));
    const path = join(dir, 'fleet.yaml');
    try {
      await writeFleetFile(path, []);
      const stack = await stackWith({
        discovery: new FileDiscovery({ path, pollIntervalMs: 100 }),
        logger: silentLogger,
      });
      expect((await fetch(`${stack.baseUrl}/ready`)).status).toBe(503);
      const models = (await (await fetch(`${stack.baseUrl}/v1/models`)).json()) as { data: unknown[] };
      expect(models.data).toEqual([]);
      const r = await postJson(`${stack.baseUrl}/v1/chat/completions`, pinned('empty'));
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ error: { type: 'ServiceUnavailableError', code: 503 } });

      const pod = fleet.pods[1]!;
      await writeFleetFile(path, [{ address: pod.address }]);
      await waitFor(async () => (await fetch(`${stack.baseUrl}/ready`)).status === 200, 5_000, '/ready 200');
      const ok = await postJson(`${stack.baseUrl}/v1/chat/completions`, pinned('file'));
      expect(ok.status).toBe(200);
      expect(ok.headers.get('x-kvedge-endpoint')).toBe(pod.address);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
