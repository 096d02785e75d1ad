/**
 * Request hygiene at the front end: size and header limits, authentication, malformed bodies,
 * unknown routes and models — each answered with the right status and an OpenAI error body, and
 * the router keeps serving afterwards. Also /health, /ready and /v1/models.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError, NotFoundError } from 'openai';
import { FakeUpstream } from './support/fake-upstream.ts';
import { rawPost, rawRequest, startEdge, type StartedEdge } from './support/edge-harness.ts';
import { RoundRobinRouting } from './support/round-robin-routing.ts';

let upstream: FakeUpstream;
let routing: RoundRobinRouting;
let edge: StartedEdge;

beforeAll(async () => {
  upstream = await FakeUpstream.start('a');
  routing = new RoundRobinRouting([upstream.endpoint], ['test-model', 'other-model']);
  edge = await startEdge(routing, { maxBodyBytes: 64 * 1024, maxHeaderBytes: 8 * 1024 });
});

afterAll(async () => {
  await edge.server.shutdown(500);
  await upstream.stop();
});

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: number };
}

async function post(
  path: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: ErrorBody }> {
  const response = await fetch(`${edge.baseUrl}${path}`, { method: 'POST', body, headers });
  return { status: response.status, body: (await response.json()) as ErrorBody };
}

async function stillServing(): Promise<void> {
  const reply = await edge.openai().completions.create({ model: 'test-model', prompt: 'still there?' });
  expect(reply.choices[0]?.text).toBe('Hello from the fake upstream.');
}

describe('bodies', () => {
  it.each([
    [
      'truncated JSON',
      '{"model": "test-model", "messages": [{"role": "user", "con',
      null,
      /could not parse the JSON/,
    ],
    ['random bytes', randomBytes(512), null, /could not parse the JSON/],
    ['an empty body', '', null, /could not parse the JSON/],
    ['a JSON array', '[1, 2]', null, /must be a JSON object/],
    [
      'a missing model',
      '{"messages": [{"role": "user", "content": "x"}]}',
      'model',
      /Missing required parameter: 'model'/,
    ],
    ['a numeric model', '{"model": 42, "messages": []}', 'model', /Invalid 'model': must be a string/],
    ['messages not an array', '{"model": "test-model", "messages": "hi"}', 'messages', /must be an array/],
    ['an empty messages array', '{"model": "test-model", "messages": []}', 'messages', /must not be empty/],
    [
      'a message without role',
      '{"model": "test-model", "messages": [{"content": "x"}]}',
      'messages.0.role',
      /role/,
    ],
    [
      'stream as a string',
      '{"model": "test-model", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}',
      'stream',
      /must be a boolean/,
    ],
  ])('400 for %s on /v1/chat/completions', async (_what, body, param, message) => {
    const { status, body: error } = await post('/v1/chat/completions', body);
    expect(status).toBe(400);
    expect(error.error).toMatchObject({ type: 'BadRequestError', code: 400, param });
    expect(error.error.message).toMatch(message);
  });

  it.each([
    ['/v1/completions', '{"model": "test-model", "prompt": {"text": "x"}}', 'prompt'],
    ['/v1/completions', '{"model": "test-model", "prompt": [1, "a"]}', 'prompt'],
    ['/v1/embeddings', '{"model": "test-model"}', 'input'],
    ['/v1/responses', '{"model": "test-model", "input": 5}', 'input'],
    ['/v1/responses', '{"model": "test-model", "input": "x", "instructions": 3}', 'instructions'],
  ])('400 naming the field on %s (%s)', async (path, body, param) => {
    const { status, body: error } = await post(path, body);
    expect(status).toBe(400);
    expect(error.error.param).toBe(param);
  });

  it('accepts token-id prompts and passes unknown fields through', async () => {
    const body = '{"model":"test-model","prompt":[[1,2,3]],"vendor_extension":{"deep":[true]}}';
    const { status } = await post('/v1/completions', body);
    expect(status).toBe(200);
    expect(upstream.last!.body.toString()).toBe(body);
  });

  it('413 for a declared oversized body, before reading it, and closes the connection', async () => {
    const response = await rawRequest(
      edge.server.port,
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${10 * 1024 * 1024}\r\n\r\n{"model":`,
    );
    expect(response.status).toBe(413);
    expect(JSON.parse(response.body)).toMatchObject({ error: { code: 413, type: 'BadRequestError' } });
    expect(response.headers['connection']).toBe('close');
  });

  it('413 for an oversized body sent through the OpenAI client', async () => {
    const error = await edge
      .openai()
      .completions.create({ model: 'test-model', prompt: 'x'.repeat(100 * 1024) })
      .catch((e: unknown) => e);
    expect((error as { status: number }).status).toBe(413);
    await stillServing();
  });

  it('404 for an unknown model (from the routing service), naming the model', async () => {
    const error = await edge
      .openai()
      .chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).message).toMatch(/nope/);
  });
});

describe('routes', () => {
  it.each([
    ['GET', '/v2/anything', 404],
    ['POST', '/v1/chat/completion', 404],
    ['GET', '/', 404],
    ['GET', '/v1/chat/completions', 405],
    ['DELETE', '/v1/models', 405],
  ])('%s %s → %i with a JSON error', async (method, path, status) => {
    const response = await fetch(`${edge.baseUrl}${path}`, { method });
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(((await response.json()) as ErrorBody).error.code).toBe(status);
  });

  it('serves /health, /ready and /v1/models', async () => {
    expect((await fetch(`${edge.baseUrl}/health`)).status).toBe(200);
    expect((await fetch(`${edge.baseUrl}/ready`)).status).toBe(200);
    const models = await edge.openai().models.list();
    expect(models.data.map((m) => m.id)).toEqual(['test-model', 'other-model']);
    routing.endpoints = [];
    try {
      const notReady = await fetch(`${edge.baseUrl}/ready`);
      expect(notReady.status).toBe(503);
      const noEndpoints = await post('/v1/completions', '{"model":"test-model","prompt":"x"}');
      expect(noEndpoints.status).toBe(503);
    } finally {
      routing.endpoints = [upstream.endpoint];
    }
  });
});

describe('headers', () => {
  const many = (n: number): Record<string, string> =>
    Object.fromEntries(Array.from({ length: n }, (_, i) => [`X-Filler-${i}`, 'v']));

  it('431 above the header count limit (default 40), 200 at it', async () => {
    const body = '{"model":"test-model","prompt":"x"}';
    // rawPost sends Host, Content-Type and Content-Length: 3 fields.
    const over = await rawRequest(edge.server.port, rawPost('/v1/completions', body, many(38)));
    expect(over.status).toBe(431);
    expect(JSON.parse(over.body).error.message).toMatch(/Too many request headers: 41/);
    const at = await rawRequest(edge.server.port, rawPost('/v1/completions', body, many(37)));
    expect(at.status).toBe(200);
  });

  it('431 above the header size limit', async () => {
    const response = await rawRequest(
      edge.server.port,
      rawPost('/v1/completions', '{"model":"test-model","prompt":"x"}', { 'X-Big': 'b'.repeat(9 * 1024) }),
    );
    expect(response.status).toBe(431);
  });

  it('keeps serving after every bad input', async () => {
    await stillServing();
  });
});

describe('API keys', () => {
  let secured: StartedEdge;
  beforeAll(async () => {
    secured = await startEdge(routing, { apiKeys: ['sk-first', 'sk-second-longer-key'] });
  });
  afterAll(() => secured.server.shutdown(500));

  it('401 without a key or with a wrong one, for the APIs and /v1/models', async () => {
    for (const key of ['x', 'sk-firs', 'sk-first-x', 'SK-FIRST']) {
      const error = await secured
        .openai(key)
        .completions.create({ model: 'test-model', prompt: 'x' })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthenticationError);
    }
    const response = await fetch(`${secured.baseUrl}/v1/completions`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(401);
    expect(((await response.json()) as ErrorBody).error.type).toBe('AuthenticationError');
    expect((await fetch(`${secured.baseUrl}/v1/models`)).status).toBe(401);
    const basic = await fetch(`${secured.baseUrl}/v1/models`, {
      headers: { authorization: 'Basic sk-first' },
    });
    expect(basic.status).toBe(401);
    expect((await fetch(`${secured.baseUrl}/health`)).status).toBe(200);
  });

  it('accepts every configured key and does not forward it upstream', async () => {
    for (const key of ['sk-first', 'sk-second-longer-key']) {
      const reply = await secured.openai(key).completions.create({ model: 'test-model', prompt: 'x' });
      expect(reply.choices).toHaveLength(1);
      expect(upstream.last!.headers['authorization']).toBeUndefined();
    }
    expect((await secured.openai('sk-first').models.list()).data).toHaveLength(2);
  });
});
