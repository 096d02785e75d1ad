/**
 * Bad input through the real router (raw sockets and fetch): garbage instead of HTTP, garbage,
 * truncated or mistyped JSON bodies, a body over the limit (413), too many or too large headers
 * (431), unknown routes (404) and methods (405), an unknown model (404). Each is answered with an
 * OpenAI error body where HTTP allows an answer at all, nothing reaches a pod that the router
 * could reject itself, and after every case a valid request still succeeds.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  MODEL,
  chatBody,
  postJson,
  rawPost,
  rawRequest,
  startStack,
  type RawResponse,
  type Stack,
} from './support/stack.ts';

const MAX_BODY = 64 * 1024;
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ pods: 2 }, { edge: { maxBodyBytes: MAX_BODY } });
}, 30_000);

afterAll(async () => {
  await stack?.stop();
});

/** Prompt tokens the pods have seen: bad requests the router rejects must not add any. */
const podPromptTokens = (): number =>
  stack.pods.reduce((sum, pod) => sum + pod.engineStats.promptTokensTotal, 0);

let tokensBefore = 0;
let expectPodUntouched = true;

afterEach(async () => {
  if (expectPodUntouched) expect(podPromptTokens()).toBe(tokensBefore);
  expectPodUntouched = true;
  // The router is still serving, on a fresh connection and through the openai client.
  const ok = await stack.openai().chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: 'still there?' }],
    max_tokens: 3,
  });
  expect(ok.choices[0]?.message.content?.length).toBeGreaterThan(0);
  tokensBefore = podPromptTokens();
});

function errorOf(response: RawResponse): {
  message: string;
  type: string;
  param: string | null;
  code: number;
} {
  return (
    JSON.parse(response.body) as {
      error: { message: string; type: string; param: string | null; code: number };
    }
  ).error;
}

describe('malformed requests', () => {
  it('drops a connection that sends kilobytes of random bytes instead of HTTP, without answering', async () => {
    for (const size of [8 * 1024, 64 * 1024, 512 * 1024]) {
      const response = await rawRequest(stack.router.port, randomBytes(size));
      expect(response.status, `${size} bytes`).toBe(0);
      expect(response.closed).toBe(true);
    }
  });

  it('keeps serving others while connections sit on a few bytes of garbage', async () => {
    // uWS (bundled build) neither answers nor closes a short unparsable head before its 10 s
    // timeout; such connections must not hold anyone else up.
    const sockets = Array.from({ length: 20 }, (_, i) => {
      const socket = net.connect(stack.router.port, '127.0.0.1');
      socket.on('error', () => undefined);
      const answer: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => answer.push(chunk));
      socket.write(
        i % 2 === 0 ? 'GARBAGE\r\n\r\n' : Buffer.concat([randomBytes(500), Buffer.from('\r\n\r\n')]),
      );
      return { socket, answer };
    });
    try {
      for (let i = 0; i < 3; i++) {
        const r = await postJson(`${stack.baseUrl}/v1/chat/completions`, chatBody(`meanwhile ${i}`));
        expect(r.status).toBe(200);
      }
      expectPodUntouched = false;
      // Nothing was mistaken for a request.
      for (const { answer } of sockets) {
        const text = Buffer.concat(answer).toString('latin1');
        expect(text === '' || /^HTTP\/1\.1 4\d\d/.test(text)).toBe(true);
      }
    } finally {
      for (const { socket } of sockets) socket.destroy();
    }
  });

  it('rejects random bytes as a body with 400', async () => {
    const response = await rawRequest(stack.router.port, rawPost('/v1/chat/completions', randomBytes(1000)));
    expect(response.status).toBe(400);
    expect(errorOf(response)).toMatchObject({ type: 'BadRequestError', code: 400 });
    expect(errorOf(response).message).toMatch(/JSON/);
  });

  it('rejects truncated JSON, non-object JSON and an empty body with 400', async () => {
    const full = JSON.stringify(chatBody());
    for (const body of [full.slice(0, full.length - 5), '[1,2,3]', '"text"', 'null', '']) {
      const r = await postJson(`${stack.baseUrl}/v1/chat/completions`, body);
      expect(r.status, `body ${JSON.stringify(body)}`).toBe(400);
      expect(r.body).toMatchObject({ error: { type: 'BadRequestError', code: 400 } });
    }
  });

  it('rejects wrong types with 400 naming the field', async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['/v1/chat/completions', { model: 42, messages: [{ role: 'user', content: 'x' }] }, 'model'],
      ['/v1/chat/completions', { model: MODEL, messages: 'hello' }, 'messages'],
      ['/v1/chat/completions', { model: MODEL, messages: [] }, 'messages'],
      ['/v1/chat/completions', { model: MODEL, messages: [{ role: 1, content: 'x' }] }, 'messages.0.role'],
      [
        '/v1/chat/completions',
        { model: MODEL, messages: [{ role: 'user', content: 'x' }], stream: 'yes' },
        'stream',
      ],
      ['/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }] }, 'model'],
      ['/v1/completions', { model: MODEL, prompt: { text: 'x' } }, 'prompt'],
      ['/v1/completions', { model: MODEL }, 'prompt'],
    ];
    for (const [path, body, param] of cases) {
      const r = await postJson(`${stack.baseUrl}${path}`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body).toMatchObject({ error: { type: 'BadRequestError', code: 400, param } });
    }
  });

  it('relays the pod’s 400 for fields only the engine validates', async () => {
    expectPodUntouched = false; // the router forwards these: only the engine knows them
    const r = await postJson(`${stack.baseUrl}/v1/chat/completions`, chatBody('x', { max_tokens: 'ten' }));
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: { code: 400, param: 'max_tokens' } });
    expect(r.headers.get('x-kvedge-endpoint')).toMatch(/^127\.0\.0\.1:\d+$/);
  });
});

describe('limits', () => {
  it('answers 413 for a body over the limit, declared or chunked, and closes the connection', async () => {
    const huge = JSON.stringify(chatBody('y'.repeat(MAX_BODY)));
    const declared = await rawRequest(stack.router.port, rawPost('/v1/chat/completions', huge));
    expect(declared.status).toBe(413);
    expect(errorOf(declared).code).toBe(413);
    expect(declared.headers['connection']).toBe('close');

    const r = await fetch(`${stack.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // A stream body goes out chunked, without Content-Length: the limit applies while reading.
      body: new Blob([huge]).stream(),
      duplex: 'half',
    } as RequestInit);
    expect(r.status).toBe(413);
    expect(((await r.json()) as { error: { code: number } }).error.code).toBe(413);
  });

  it('answers 431 for too many headers and for headers too large', async () => {
    const many: Record<string, string> = {};
    for (let i = 0; i < 44; i++) many[`x-extra-${i}`] = 'v';
    const tooMany = await rawRequest(
      stack.router.port,
      rawPost('/v1/chat/completions', JSON.stringify(chatBody()), many),
    );
    expect(tooMany.status).toBe(431);
    expect(errorOf(tooMany)).toMatchObject({ code: 431 });
    expect(errorOf(tooMany).message).toMatch(/Too many request headers/);

    const large = await rawRequest(
      stack.router.port,
      rawPost('/v1/chat/completions', JSON.stringify(chatBody()), { 'x-large': 'z'.repeat(20_000) }),
    );
    expect(large.status).toBe(431);
    expect(errorOf(large).message).toMatch(/too large/);
  });
});

describe('unknown routes and models', () => {
  it('answers 404 for unknown paths and 405 for wrong methods, as OpenAI error bodies', async () => {
    for (const [method, path] of [
      ['GET', '/v1/nope'],
      ['POST', '/v2/chat/completions'],
      ['DELETE', '/admin'],
    ] as const) {
      const r = await fetch(`${stack.baseUrl}${path}`, { method });
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(await r.json()).toMatchObject({ error: { type: 'NotFoundError', code: 404 } });
    }
    const wrongMethod = await fetch(`${stack.baseUrl}/v1/chat/completions`);
    expect(wrongMethod.status).toBe(405);
    expect(await wrongMethod.json()).toMatchObject({ error: { code: 405 } });
  });

  it('answers 404 for a model no pod serves, naming the model', async () => {
    const r = await postJson(
      `${stack.baseUrl}/v1/chat/completions`,
      chatBody('x', { model: 'no-such-model' }),
    );
    expect(r.status).toBe(404);
    expect(r.body).toEqual({
      error: {
        message: 'The model `no-such-model` does not exist.',
        type: 'NotFoundError',
        param: 'model',
        code: 404,
      },
    });
  });
});
