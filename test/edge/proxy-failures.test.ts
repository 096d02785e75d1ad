/**
 * Upstream failures: retried before the first byte (dead endpoint, reset, 503), surfaced cleanly
 * after it (SSE error event, dropped connection), timeouts mapped to 504, and the lease of every
 * attempt released exactly once.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { APIError } from 'openai';
import { FakeUpstream } from './support/fake-upstream.ts';
import { deadEndpoint, metricValue, startEdge, type StartedEdge } from './support/edge-harness.ts';
import { RoundRobinRouting } from './support/round-robin-routing.ts';

let a: FakeUpstream;
let b: FakeUpstream;

beforeAll(async () => {
  a = await FakeUpstream.start('a');
  b = await FakeUpstream.start('b');
});

afterAll(async () => {
  await a.stop();
  await b.stop();
});

const started: StartedEdge[] = [];
async function edgeOver(routing: RoundRobinRouting, upstream = {}): Promise<StartedEdge> {
  const edge = await startEdge(routing, { upstream });
  started.push(edge);
  return edge;
}

afterEach(async () => {
  a.set({});
  b.set({});
  await Promise.all(started.splice(0).map((e) => e.server.shutdown(500)));
});

const chat = { model: 'test-model', messages: [{ role: 'user' as const, content: 'hello' }] };

describe('retries before the first byte', () => {
  it('retries a dead first endpoint on the next one', async () => {
    const dead = await deadEndpoint();
    const routing = new RoundRobinRouting([dead, a.endpoint]);
    const edge = await edgeOver(routing);
    const { data, response } = await edge.openai().chat.completions.create(chat).withResponse();
    expect(data.choices[0]?.message.content).toBe('Hello from the fake upstream.');
    expect(response.headers.get('x-kvedge-endpoint')).toBe(a.endpoint.id);
    expect(await metricValue(edge.metrics, 'kvedge_retries_total', { reason: 'connect' })).toBe(1);
    expect(await metricValue(edge.metrics, 'kvedge_upstream_errors_total', { kind: 'connect' })).toBe(1);
    expect(routing.leases.map((l) => [l.endpointId, l.outcome?.ok])).toEqual([
      [dead.id, false],
      [a.endpoint.id, true],
    ]);
    expect(
      await metricValue(edge.metrics, 'kvedge_requests_total', { status: '200', endpoint: a.endpoint.id }),
    ).toBe(1);
  });

  it('retries a reset and a 503, streaming included', async () => {
    a.set({ mode: 'reset' });
    const routing = new RoundRobinRouting([a.endpoint, b.endpoint]);
    const edge = await edgeOver(routing);
    const stream = await edge.openai().chat.completions.create({ ...chat, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('Hello from the fake upstream.');

    b.set({ mode: 'status', status: 503 }); // next decision starts at b, falls back to a
    a.set({});
    const response = await fetch(`${edge.baseUrl}/v1/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'test-model', prompt: 'x' }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-kvedge-endpoint')).toBe(a.endpoint.id);
    expect(await metricValue(edge.metrics, 'kvedge_retries_total')).toBe(2);
    expect(await metricValue(edge.metrics, 'kvedge_retries_total', { reason: 'status' })).toBe(1);
  });

  it('relays the last endpoint’s 503 when retries are exhausted', async () => {
    a.set({ mode: 'status', status: 503 });
    b.set({ mode: 'status', status: 503 });
    const edge = await edgeOver(new RoundRobinRouting([a.endpoint, b.endpoint]));
    const response = await fetch(`${edge.baseUrl}/v1/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'test-model', prompt: 'x' }),
    });
    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: { message: string } }).error.message).toBe('b says 503');
  });

  it('answers 502 when every candidate is dead, and honours maxRetries = 0', async () => {
    const routing = new RoundRobinRouting([await deadEndpoint(), await deadEndpoint(), a.endpoint]);
    const edge = await edgeOver(routing);
    const error = await edge
      .openai()
      .chat.completions.create(chat)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBe(502);
    expect(routing.leases).toHaveLength(2); // first + 1 retry, never the third

    const noRetry = await edgeOver(new RoundRobinRouting([await deadEndpoint(), a.endpoint]), {
      maxRetries: 0,
    });
    const response = await fetch(`${noRetry.baseUrl}/v1/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'test-model', prompt: 'x' }),
    });
    expect(response.status).toBe(502);
  });
});

describe('failures after the first byte', () => {
  it('ends an SSE stream with an error event the OpenAI client throws on', async () => {
    a.set({ mode: 'fail-mid-stream', failAfterChunks: 3 });
    const routing = new RoundRobinRouting([a.endpoint, b.endpoint]);
    const edge = await edgeOver(routing);
    const before = b.requests.length;
    const stream = await edge.openai().chat.completions.create({ ...chat, stream: true });
    let text = '';
    const failure = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(text).toBe('Hello from');
    expect(failure).toBeInstanceOf(APIError);
    expect((failure as APIError).message).toMatch(/Upstream 127\.0\.0\.1:\d+ failed/);
    expect(b.requests.length).toBe(before); // never retried once bytes went out
    expect(routing.leases[0]!.outcome?.ok).toBe(false);
    expect(await metricValue(edge.metrics, 'kvedge_upstream_errors_total', { kind: 'reset' })).toBe(1);
  });

  it('answers 502 for a non-streaming body that breaks before it was sent (collected)', async () => {
    a.set({ mode: 'fail-mid-stream' });
    const edge = await edgeOver(new RoundRobinRouting([a.endpoint]));
    const response = await fetch(`${edge.baseUrl}/v1/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'test-model', prompt: 'x' }),
    });
    expect(response.status).toBe(502);
  });

  it('drops the connection when a streamed non-SSE body breaks after bytes were sent', async () => {
    a.set({ mode: 'fail-mid-stream' });
    // maxBufferedBytes below the body size forces streaming mode for this JSON body.
    const edge = await edgeOver(new RoundRobinRouting([a.endpoint]), { maxBufferedBytes: 64 });
    const failure = await fetch(`${edge.baseUrl}/v1/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'test-model', prompt: 'x' }),
    })
      .then((r) => r.text())
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(Error);
  });
});

describe('timeouts', () => {
  it('answers 504 when the first byte does not come in time, without retrying', async () => {
    a.set({ mode: 'hang' });
    const routing = new RoundRobinRouting([a.endpoint, b.endpoint]);
    const edge = await edgeOver(routing, { firstByteTimeoutMs: 150 });
    const before = b.requests.length;
    const response = await fetch(`${edge.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ ...chat, stream: true }),
    });
    expect(response.status).toBe(504);
    expect(((await response.json()) as { error: { type: string } }).error.type).toBe('GatewayTimeoutError');
    expect(b.requests.length).toBe(before);
    expect(
      await metricValue(edge.metrics, 'kvedge_upstream_errors_total', { kind: 'first_byte_timeout' }),
    ).toBe(1);
  });

  it('ends a stream that goes idle with an error event and cancels the upstream', async () => {
    a.set({ mode: 'stall-after-first' });
    const edge = await edgeOver(new RoundRobinRouting([a.endpoint]), { idleTimeoutMs: 150 });
    const response = await fetch(`${edge.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ ...chat, stream: true }),
    });
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(text).toMatch(
      /^data: .*"role":"assistant".*\n\ndata: \{"error":\{"message":"Upstream .* timed out: no data for 150 ms\.","type":"GatewayTimeoutError","param":null,"code":504\}\}\n\n$/s,
    );
    expect(text).not.toContain('[DONE]');
    await expect.poll(() => a.last!.aborted).toBe(true);
  });
});
