import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLive } from '../../bench/live/live-driver.ts';
import { SseParser } from '../../bench/live/sse-parser.ts';
import { request, tinyWorkload, tokens } from './fixtures.ts';

describe('SSE parser', () => {
  it('reassembles events split across chunks and CRLF line ends', () => {
    const parser = new SseParser();
    const enc = new TextEncoder();
    expect(parser.push(enc.encode(': keep-alive\n\ndata: {"a":1}\r\n\r\ndata: {"b"'))).toEqual(['{"a":1}']);
    expect(parser.push(enc.encode(':2}'))).toEqual([]);
    expect(parser.push(enc.encode('\n\ndata: [DONE]\n\n'))).toEqual(['{"b":2}', '[DONE]']);
  });

  it('joins multi-line data and keeps [DONE]', () => {
    const parser = new SseParser();
    const out = parser.push(new TextEncoder().encode('data: line1\ndata: line2\n\ndata: [DONE]\n\n'));
    expect(out).toEqual(['line1\nline2', '[DONE]']);
  });
});

/** A fake OpenAI completions server: 3 token chunks 20 ms apart, then usage; records bodies. */
function fakeServer(bodies: unknown[]): Server {
  return createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as { prompt: number[]; max_tokens: number };
      bodies.push(body);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'x-kvedge-sim-pod': 'sim-0' });
      let i = 0;
      const tick = setInterval(() => {
        if (i < body.max_tokens) {
          res.write(`data: ${JSON.stringify({ choices: [{ text: `t${i}`, finish_reason: null }] })}\n\n`);
          i++;
          return;
        }
        clearInterval(tick);
        res.write(`data: ${JSON.stringify({ choices: [{ text: '', finish_reason: 'length' }] })}\n\n`);
        res.write(
          `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: body.prompt.length, completion_tokens: body.max_tokens, prompt_tokens_details: { cached_tokens: 4 } } })}\n\n`,
        );
        res.end('data: [DONE]\n\n');
      }, 20);
    });
  });
}

describe('live driver', () => {
  const bodies: unknown[] = [];
  const server = fakeServer(bodies);
  let url = '';
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends token-id prompts and times chunks on the client', async () => {
    const workload = tinyWorkload([request('a', 0, tokens(1, 12), 3), request('b', 0.05, tokens(50, 8), 3)]);
    const result = await runLive({ workload, targets: [url], model: 'm', label: 'fake' });
    expect(bodies).toHaveLength(2);
    expect(bodies[0]).toMatchObject({
      model: 'm',
      prompt: tokens(1, 12),
      max_tokens: 3,
      stream: true,
      ignore_eos: true,
    });
    const a = result.records.find((r) => r.id === 'a')!;
    expect(a.error).toBeNull();
    expect(a.pod).toBe('sim-0');
    expect(a.cachedTokens).toBe(4);
    expect(a.promptTokens).toBe(12);
    expect(a.completionTokens).toBe(3);
    expect(a.firstTokenS).toBeGreaterThan(a.arrivalS);
    expect(a.finishS).toBeGreaterThanOrEqual(a.firstTokenS);
    // 3 token chunks each (the closing empty chunk is not a token) → 2 gaps per request, each
    // following a 20 ms server timer (a busy machine can shift single gaps, not their sum).
    expect(result.itlGapsS).toHaveLength(4);
    expect(Array.from(result.itlGapsS).reduce((s, g) => s + g, 0)).toBeGreaterThan(0.03);
    expect(result.records.find((r) => r.id === 'b')!.arrivalS).toBeGreaterThanOrEqual(0.04);
  });

  it('counts the pods no request reached, so the spread figures see them', async () => {
    const workload = tinyWorkload([request('a', 0, tokens(1, 12), 3)]);
    const result = await runLive({
      workload,
      targets: [url],
      model: 'm',
      label: 'fake',
      podIds: ['sim-0', 'sim-1'],
    });
    expect(result.dispatchedPerPod).toEqual({ 'sim-0': 1, 'sim-1': 0 });
  });

  it('records HTTP failures as errors', async () => {
    const down = createServer((_req, res) => {
      res.writeHead(503);
      res.end('busy');
    });
    await new Promise<void>((resolve) => down.listen(0, '127.0.0.1', resolve));
    const target = `http://127.0.0.1:${(down.address() as AddressInfo).port}`;
    const result = await runLive({
      workload: tinyWorkload([request('x', 0, tokens(1, 4))]),
      targets: [target],
      model: 'm',
      label: 'down',
    });
    await new Promise<void>((resolve) => down.close(() => resolve()));
    expect(result.records[0]!.error).toBe('http-503');
  });
});
