/** Pure pieces of the edge: usage from response tails, prompt flattening, hop-by-hop, keys, config. */
import { describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import { HttpError } from '../../src/http/openai-error.ts';
import { ApiKeyVerifier } from '../../src/edge/api-keys.ts';
import { resolveEdgeConfig } from '../../src/edge/edge-config.ts';
import { stripHopByHop } from '../../src/edge/hop-by-hop.ts';
import { parseEdgeRequest } from '../../src/edge/parse-request.ts';
import { UsageTail, parseUsage } from '../../src/edge/proxy/usage-tail.ts';

describe('usage from the response tail', () => {
  it('reads the final SSE usage chunk even when every chunk carries usage', () => {
    const tail = new UsageTail();
    const event = (usage: unknown): Buffer =>
      Buffer.from(`data: ${JSON.stringify({ choices: [], usage })}\n\n`);
    tail.push(event({ prompt_tokens: 5, completion_tokens: 1, prompt_tokens_details: null }));
    tail.push(Buffer.from(`data: {"choices":[{"delta":{"content":"${'z'.repeat(20_000)}"}}]}\n\n`));
    tail.push(event({ prompt_tokens: 5, completion_tokens: 9, prompt_tokens_details: { cached_tokens: 4 } }));
    tail.push(Buffer.from('data: [DONE]\n\n'));
    expect(tail.usage()).toEqual({ promptTokens: 5, completionTokens: 9, cachedTokens: 4 });
  });

  it('reads Responses API usage and tolerates absent or null usage', () => {
    expect(
      parseUsage(
        '{"output":[],"usage":{"input_tokens":12,"input_tokens_details":{"cached_tokens":8},"output_tokens":3}}',
      ),
    ).toEqual({ promptTokens: 12, completionTokens: 3, cachedTokens: 8 });
    expect(parseUsage('{"usage":null}')).toEqual({});
    expect(parseUsage('data: [DONE]\n\n')).toEqual({});
    expect(new UsageTail().usage()).toEqual({});
  });
});

describe('parsing', () => {
  const context = {
    requestId: 'r1',
    path: '/v1/x',
    headers: { 'x-session-id': 's', 'x-llm-d-inference-objective': 'batch' },
    sessionHeader: 'x-session-id',
    objectiveHeader: 'x-llm-d-inference-objective',
    receivedAt: 0,
  };
  const parse = (api: Parameters<typeof parseEdgeRequest>[0], body: unknown) =>
    parseEdgeRequest(api, Buffer.from(JSON.stringify(body)), context);

  it('flattens each API’s prompt-bearing fields', () => {
    expect(parse('completions', { model: 'm', prompt: ['a', 'b'] }).promptText).toBe('a\nb');
    expect(parse('completions', { model: 'm', prompt: [1, 2, 3] }).promptText).toBe('');
    expect(parse('embeddings', { model: 'm', input: 'vec' }).promptText).toBe('vec');
    expect(
      parse('responses', {
        model: 'm',
        instructions: 'sys',
        input: [
          { role: 'user', content: [{ type: 'input_text', text: 'q' }] },
          { type: 'function_call_output', output: '42' },
        ],
      }).promptText,
    ).toBe('sys\nuser\nq\nfunction_call_output\n42\n');
  });

  it('keeps the raw bytes, stream flag and header-derived fields', () => {
    const request = parse('chat', {
      model: 'm',
      messages: [{ role: 'user', content: null }],
      stream: true,
      x: 1,
    });
    expect(request).toMatchObject({
      model: 'm',
      stream: true,
      sessionId: 's',
      objective: 'batch',
      api: 'chat',
    });
    expect(request.body).toMatchObject({ x: 1 });
    expect(JSON.parse(request.rawBody.toString())).toEqual(request.body);
  });

  it('names the offending field', () => {
    const error = (() => {
      try {
        parse('chat', { model: 'm', messages: [{ role: 'user', content: 5 }] });
      } catch (e) {
        return e as HttpError;
      }
    })();
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ status: 400, param: 'messages.0.content' });
  });
});

describe('hop-by-hop headers', () => {
  it('drops the fixed list, names listed in Connection, and caller-managed names', () => {
    const out = stripHopByHop(
      {
        connection: 'close, X-Private',
        'x-private': '1',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        upgrade: 'h2c',
        'proxy-connection': 'keep-alive',
        host: 'h',
        accept: '*/*',
        'set-cookie': ['a=1', 'b=2'],
      },
      new Set(['host']),
    );
    expect(out).toEqual({ accept: '*/*', 'set-cookie': ['a=1', 'b=2'] });
  });
});

describe('API keys', () => {
  it('accepts configured bearer keys only, and everything when none are configured', () => {
    const keys = new ApiKeyVerifier(['k1', 'a-much-longer-key']);
    expect(() => keys.check('Bearer k1')).not.toThrow();
    expect(() => keys.check('bearer   a-much-longer-key ')).not.toThrow();
    for (const bad of [undefined, '', 'k1', 'Bearer', 'Bearer k', 'Bearer k1 k1', 'Basic k1']) {
      expect(() => keys.check(bad)).toThrow(HttpError);
    }
    expect(() => new ApiKeyVerifier([]).check(undefined)).not.toThrow();
  });
});

describe('config', () => {
  it('fills documented defaults and rejects limits uWS could never honour', () => {
    const config = resolveEdgeConfig({ upstream: { maxRetries: 2 } });
    expect(config).toMatchObject({
      port: 8000,
      maxBodyBytes: 8 * 1024 * 1024,
      maxHeaderCount: 40,
      endpointHeader: 'x-kvedge-endpoint',
      upstream: {
        maxRetries: 2,
        connectTimeoutMs: 5000,
        firstByteTimeoutMs: 60_000,
        retryOnStatus: [502, 503],
      },
    });
    expect(() => resolveEdgeConfig({ maxHeaderCount: 100 })).toThrow(ZodError);
    expect(() => resolveEdgeConfig({ upstream: { conections: 3 } } as never)).toThrow(ZodError);
  });
});
