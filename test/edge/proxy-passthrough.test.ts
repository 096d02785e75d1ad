/**
 * The proxy path end to end: OpenAI client → edge → fake vLLM-like upstream, streaming and not,
 * for the four APIs. Bodies must arrive byte for byte, usage and TTFT must reach the lease, and
 * request ids and hop-by-hop stripping must hold at the upstream.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeUpstream } from './support/fake-upstream.ts';
import { rawPost, rawRequest, startEdge, waitFor, type StartedEdge } from './support/edge-harness.ts';
import { RoundRobinRouting } from './support/round-robin-routing.ts';

let upstream: FakeUpstream;
let routing: RoundRobinRouting;
let edge: StartedEdge;

beforeAll(async () => {
  upstream = await FakeUpstream.start('a');
  routing = new RoundRobinRouting([upstream.endpoint]);
  edge = await startEdge(routing);
});

afterAll(async () => {
  await edge.server.shutdown(1_000);
  await upstream.stop();
});

beforeEach(() => {
  upstream.set({});
});

describe('non-streaming', () => {
  it('relays a chat completion and reports usage on the lease', async () => {
    const { data, response } = await edge
      .openai()
      .chat.completions.create({ model: 'test-model', messages: [{ role: 'user', content: 'hi there' }] })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe('Hello from the fake upstream.');
    expect(response.headers.get('x-kvedge-endpoint')).toBe(upstream.endpoint.id);
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const lease = routing.leases.at(-1)!;
    expect(lease.endpointId).toBe(upstream.endpoint.id);
    expect(lease.outcome).toMatchObject({ ok: true, completionTokens: 6, cachedTokens: 3 });
    expect(lease.outcome!.promptTokens).toBeGreaterThan(0);
    // A buffered response's first byte is its last: neither a TTFT nor a first-token event.
    expect(lease.outcome!.ttftMs).toBeUndefined();
    expect(lease.firstTokenBeforeRelease).toBe(false);
  });

  it.each([
    ['/v1/chat/completions', { model: 'test-model', messages: [{ role: 'system', content: 'be brief' }] }],
    ['/v1/completions', { model: 'test-model', prompt: 'Once upon a time', max_tokens: 5, seed: 7 }],
    ['/v1/embeddings', { model: 'test-model', input: ['a', 'b'] }],
    ['/v1/responses', { model: 'test-model', input: 'hello', instructions: 'be nice' }],
  ])('forwards %s bytes unchanged both ways', async (path, body) => {
    // Odd spacing and key order: the upstream must get these exact bytes, not a re-serialization.
    const sentBody = JSON.stringify(body, null, 3) + '\n';
    const response = await fetch(`${edge.baseUrl}${path}?tenant=x`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: sentBody,
    });
    const received = Buffer.from(await response.arrayBuffer());
    expect(response.status).toBe(200);
    expect(upstream.last!.path).toBe(`${path}?tenant=x`);
    expect(upstream.last!.body.toString()).toBe(sentBody);
    expect(received.equals(upstream.sentBytes())).toBe(true);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(Number(response.headers.get('content-length'))).toBe(received.length);
  });

  it('passes upstream 4xx through unchanged and unretried', async () => {
    const other = await FakeUpstream.start('b');
    routing.endpoints = [upstream.endpoint, other.endpoint];
    try {
      upstream.set({ mode: 'status', status: 400 });
      other.set({ mode: 'status', status: 400 });
      const before = upstream.requests.length + other.requests.length;
      const response = await fetch(`${edge.baseUrl}/v1/completions`, {
        method: 'POST',
        body: JSON.stringify({ model: 'test-model', prompt: 'x' }),
      });
      expect(response.status).toBe(400);
      const body = (await response.json()) as { error: { message: string } };
      expect(body.error.message).toMatch(/says 400/);
      expect(upstream.requests.length + other.requests.length).toBe(before + 1);
    } finally {
      routing.endpoints = [upstream.endpoint];
      await other.stop();
    }
  });
});

describe('streaming', () => {
  it('streams chat chunks to the OpenAI client and records TTFT and usage', async () => {
    upstream.set({ chunkDelayMs: 5, cachedTokens: 11 });
    const stream = await edge.openai().chat.completions.create({
      model: 'test-model',
      messages: [{ role: 'user', content: 'stream please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('Hello from the fake upstream.');
    expect(usage).toMatchObject({ completion_tokens: 6, prompt_tokens_details: { cached_tokens: 11 } });
    const lease = routing.leases.at(-1)!;
    expect(lease.outcome).toMatchObject({ ok: true, completionTokens: 6, cachedTokens: 11 });
    expect(lease.outcome!.ttftMs).toBeGreaterThan(0);
    expect(lease.firstTokenBeforeRelease).toBe(true);
    expect(await edge.metrics.ttft.get()).toMatchObject({
      values: expect.arrayContaining([
        expect.objectContaining({ labels: expect.objectContaining({ streaming: 'true' }) }),
      ]),
    });
  });

  it('relays SSE bytes exactly, chunked, with the upstream content type', async () => {
    upstream.set({ chunkDelayMs: 2 });
    const response = await fetch(`${edge.baseUrl}/v1/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'test-model', prompt: 'p', stream: true }),
    });
    const received = Buffer.from(await response.arrayBuffer());
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(received.equals(upstream.sentBytes())).toBe(true);
    expect(received.toString().endsWith('data: [DONE]\n\n')).toBe(true);
  });
});

describe('connection pools', () => {
  it('reuses keep-alive connections and closes the pool of an endpoint that leaves the fleet', async () => {
    const other = await FakeUpstream.start('b');
    try {
      routing.setEndpoints([other.endpoint]);
      for (let i = 0; i < 5; i++)
        await edge.openai().completions.create({ model: 'test-model', prompt: `${i}` });
      expect(other.requests).toHaveLength(5);
      expect(other.openConnections).toBe(1);
      routing.setEndpoints([upstream.endpoint]);
      await waitFor(() => other.openConnections === 0, 2_000, 'pool close');
    } finally {
      routing.setEndpoints([upstream.endpoint]);
      await other.stop();
    }
  });
});

describe('headers', () => {
  it('honours x-request-id, strips hop-by-hop headers both ways, forwards the rest', async () => {
    upstream.set({
      extraHeaders: { connection: 'keep-alive, x-upstream-hop', 'x-upstream-hop': 'secret', 'x-vllm': 'yes' },
    });
    const response = await rawRequest(
      edge.server.port,
      rawPost('/v1/completions', JSON.stringify({ model: 'test-model', prompt: 'hop' }), {
        'X-Request-Id': 'req-abc-123',
        Connection: 'keep-alive, x-client-hop',
        'X-Client-Hop': 'must-not-pass',
        'Keep-Alive': 'timeout=5',
        TE: 'trailers',
        'Proxy-Authorization': 'Basic eDp5',
        'X-Session-Id': 'sess-9',
        'X-Llm-D-Inference-Objective': 'critical',
        'X-Custom': 'kept',
      }),
    );
    expect(response.status).toBe(200);
    const seen = upstream.last!.headers;
    expect(seen['x-request-id']).toBe('req-abc-123');
    expect(seen['x-custom']).toBe('kept');
    for (const name of ['x-client-hop', 'keep-alive', 'te', 'proxy-authorization'])
      expect(seen[name]).toBeUndefined();
    expect(seen['connection']).not.toMatch(/x-client-hop/);
    expect(response.headers['x-request-id']).toBe('req-abc-123');
    expect(response.headers['x-vllm']).toBe('yes');
    expect(response.headers['x-upstream-hop']).toBeUndefined();
    expect(response.raw.match(/^x-request-id:/gim)).toHaveLength(1);
    const decided = routing.decided.at(-1)!;
    expect(decided).toMatchObject({ sessionId: 'sess-9', objective: 'critical', requestId: 'req-abc-123' });
  });

  it('generates a request id when the client sends an unusable one', async () => {
    const response = await rawRequest(
      edge.server.port,
      rawPost('/v1/completions', JSON.stringify({ model: 'test-model', prompt: 'x' }), {
        'X-Request-Id': 'has space',
      }),
    );
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(upstream.last!.headers['x-request-id']).toBe(response.headers['x-request-id']);
  });

  it('flattens the prompt for routing', async () => {
    await edge.openai().chat.completions.create({
      model: 'test-model',
      messages: [
        { role: 'system', content: 'You are terse.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Part one. ' },
            { type: 'text', text: 'Part two.' },
          ],
        },
      ],
    });
    expect(routing.decided.at(-1)!.promptText).toBe('system\nYou are terse.\nuser\nPart one. Part two.\n');
  });
});
