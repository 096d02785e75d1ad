/**
 * A small OpenAI-compatible upstream on node:http, shaped like vLLM's responses (SSE chunk
 * objects, usage with prompt_tokens_details.cached_tokens, `data: [DONE]`). Its behaviour is
 * switchable per test (fail before the first byte, return a status, fail mid-stream, hang, stall,
 * flood) and it records every request: headers, body, the exact bytes it sent, whether the client
 * (the router) went away, and whether its writes hit backpressure.
 */
import { once } from 'node:events';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { UpstreamEndpoint } from '../../../src/edge/routing-service.ts';

export type UpstreamMode =
  /** Normal answers. */
  | 'ok'
  /** Destroy the socket as soon as the request arrives (reset before any byte). */
  | 'reset'
  /** Answer `status` with an OpenAI error body. */
  | 'status'
  /** Send `failAfterChunks` SSE chunks (or part of a JSON body), then destroy the socket. */
  | 'fail-mid-stream'
  /** Never answer. */
  | 'hang'
  /** Send headers and the first chunk, then nothing. */
  | 'stall-after-first'
  /** Stream `floodChunkBytes` SSE chunks as fast as backpressure allows, up to `floodMaxBytes`. */
  | 'flood';

export interface UpstreamBehavior {
  mode: UpstreamMode;
  /** Tokens of the generated answer (one SSE chunk each). */
  tokens: string[];
  /** Delay before each SSE chunk. */
  chunkDelayMs: number;
  status: number;
  failAfterChunks: number;
  floodChunkBytes: number;
  floodMaxBytes: number;
  /** Reported as usage.prompt_tokens_details.cached_tokens. */
  cachedTokens: number;
  /** Extra response headers (e.g. hop-by-hop ones the router must strip). */
  extraHeaders: Record<string, string>;
}

export interface RecordedRequest {
  readonly path: string;
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly body: Buffer;
  /** Every body byte written to the router, in order. */
  readonly sent: Buffer[];
  /** The router closed the connection before the response was complete. */
  aborted: boolean;
  completed: boolean;
  /** Writes that returned false (the router stopped reading). */
  backpressureEvents: number;
  bytesWritten: number;
}

const DEFAULT_BEHAVIOR: UpstreamBehavior = {
  mode: 'ok',
  tokens: ['Hello', ' from', ' the', ' fake', ' upstream', '.'],
  chunkDelayMs: 0,
  status: 503,
  failAfterChunks: 2,
  floodChunkBytes: 16 * 1024,
  floodMaxBytes: 256 * 1024 * 1024,
  cachedTokens: 3,
  extraHeaders: {},
};

export class FakeUpstream {
  readonly requests: RecordedRequest[] = [];
  behavior: UpstreamBehavior = { ...DEFAULT_BEHAVIOR };
  /** TCP connections currently open from the router. */
  openConnections = 0;
  private readonly server: http.Server;

  private constructor(
    readonly name: string,
    readonly model: string,
  ) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5_000; // uvicorn's default, like vLLM
    this.server.on('connection', (socket) => {
      this.openConnections++;
      socket.once('close', () => this.openConnections--);
    });
  }

  static async start(name = 'upstream', model = 'test-model'): Promise<FakeUpstream> {
    const upstream = new FakeUpstream(name, model);
    upstream.server.listen(0, '127.0.0.1');
    await once(upstream.server, 'listening');
    return upstream;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get endpoint(): UpstreamEndpoint {
    return { id: `127.0.0.1:${this.port}`, host: '127.0.0.1', port: this.port };
  }

  /** Switch behaviour for the following requests. */
  set(behavior: Partial<UpstreamBehavior>): this {
    this.behavior = { ...DEFAULT_BEHAVIOR, ...behavior };
    return this;
  }

  get last(): RecordedRequest | undefined {
    return this.requests.at(-1);
  }

  /** Concatenation of the body bytes sent for request `i`. */
  sentBytes(i = this.requests.length - 1): Buffer {
    return Buffer.concat(this.requests[i]!.sent);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const record: RecordedRequest = {
      path: req.url ?? '',
      method: req.method ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      body: Buffer.concat(chunks),
      sent: [],
      aborted: false,
      completed: false,
      backpressureEvents: 0,
      bytesWritten: 0,
    };
    this.requests.push(record);
    res.on('close', () => {
      if (!res.writableFinished) record.aborted = true;
    });
    const behavior = this.behavior;
    if (behavior.mode === 'reset') {
      req.socket.destroy();
      return;
    }
    if (behavior.mode === 'hang') return;
    if (req.url === '/v1/models') {
      this.sendJson(res, record, 200, { object: 'list', data: [{ id: this.model, object: 'model' }] });
      return;
    }
    if (behavior.mode === 'status') {
      this.sendJson(res, record, behavior.status, {
        error: {
          message: `${this.name} says ${behavior.status}`,
          type: 'Upstream',
          param: null,
          code: behavior.status,
        },
      });
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(record.body.toString('utf8')) as Record<string, unknown>;
    } catch {
      this.sendJson(res, record, 400, {
        error: { message: 'bad json', type: 'BadRequestError', param: null, code: 400 },
      });
      return;
    }
    if (body['stream'] === true || behavior.mode === 'flood') await this.stream(req, res, record, body);
    else await this.respondWhole(res, record, body);
  }

  private sendJson(res: ServerResponse, record: RecordedRequest, status: number, value: unknown): void {
    const bytes = Buffer.from(JSON.stringify(value));
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': bytes.length,
      ...this.behavior.extraHeaders,
    });
    record.sent.push(bytes);
    res.end(bytes, () => (record.completed = true));
  }

  private async respondWhole(
    res: ServerResponse,
    record: RecordedRequest,
    body: Record<string, unknown>,
  ): Promise<void> {
    const value = wholeResponse(record.path, this.model, body, this.behavior);
    if (this.behavior.mode === 'fail-mid-stream') {
      const bytes = Buffer.from(JSON.stringify(value));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': bytes.length });
      const part = bytes.subarray(0, Math.floor(bytes.length / 2));
      record.sent.push(part);
      res.write(part);
      await delay(20);
      res.socket?.destroy();
      return;
    }
    if (this.behavior.chunkDelayMs > 0) await delay(this.behavior.chunkDelayMs);
    this.sendJson(res, record, 200, value);
  }

  private async stream(
    req: IncomingMessage,
    res: ServerResponse,
    record: RecordedRequest,
    body: Record<string, unknown>,
  ): Promise<void> {
    const behavior = this.behavior;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      ...behavior.extraHeaders,
    });
    res.flushHeaders();
    const write = async (text: string | Buffer): Promise<boolean> => {
      if (record.aborted || res.destroyed) return false;
      const bytes = typeof text === 'string' ? Buffer.from(text) : text;
      record.sent.push(bytes);
      record.bytesWritten += bytes.length;
      if (!res.write(bytes)) {
        record.backpressureEvents++;
        await drainOrClose(res);
      }
      return !record.aborted;
    };
    if (behavior.mode === 'flood') {
      const payload = 'x'.repeat(behavior.floodChunkBytes - 16);
      while (record.bytesWritten < behavior.floodMaxBytes) {
        if (!(await write(`data: {"p":"${payload}"}\n\n`))) return;
      }
      const done = Buffer.from('data: [DONE]\n\n');
      record.sent.push(done);
      res.end(done, () => (record.completed = true));
      return;
    }
    const chunks = sseChunks(record.path, this.model, body, behavior);
    for (let i = 0; i < chunks.length; i++) {
      if (behavior.chunkDelayMs > 0) await delay(behavior.chunkDelayMs);
      if (behavior.mode === 'fail-mid-stream' && i === behavior.failAfterChunks) {
        await delay(20); // let the chunks written so far leave the socket first
        req.socket.destroy();
        return;
      }
      if (!(await write(chunks[i]!))) return;
      if (behavior.mode === 'stall-after-first') return;
    }
    res.end(() => (record.completed = true));
  }
}

function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function promptTokenCount(body: Record<string, unknown>): number {
  return JSON.stringify(body['messages'] ?? body['prompt'] ?? body['input'] ?? '').split(/\s+/).length;
}

function usageOf(body: Record<string, unknown>, behavior: UpstreamBehavior): Record<string, unknown> {
  const prompt = promptTokenCount(body);
  return {
    prompt_tokens: prompt,
    total_tokens: prompt + behavior.tokens.length,
    completion_tokens: behavior.tokens.length,
    prompt_tokens_details: { cached_tokens: behavior.cachedTokens },
  };
}

const CREATED = 1_700_000_000;

function wholeResponse(
  path: string,
  model: string,
  body: Record<string, unknown>,
  behavior: UpstreamBehavior,
): Record<string, unknown> {
  const text = behavior.tokens.join('');
  if (path.startsWith('/v1/embeddings')) {
    const prompt = promptTokenCount(body);
    return {
      id: 'embd-1',
      object: 'list',
      created: CREATED,
      model,
      data: [{ index: 0, object: 'embedding', embedding: [0.25, -0.5, 0.125] }],
      usage: {
        prompt_tokens: prompt,
        total_tokens: prompt,
        completion_tokens: 0,
        prompt_tokens_details: null,
      },
    };
  }
  if (path.startsWith('/v1/responses')) {
    const prompt = promptTokenCount(body);
    return {
      id: 'resp_1',
      object: 'response',
      created_at: CREATED,
      model,
      output: [
        {
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          status: 'completed',
          content: [{ type: 'output_text', text, annotations: [] }],
        },
      ],
      status: 'completed',
      usage: {
        input_tokens: prompt,
        input_tokens_details: { cached_tokens: behavior.cachedTokens },
        output_tokens: behavior.tokens.length,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: prompt + behavior.tokens.length,
      },
    };
  }
  const chat = path.startsWith('/v1/chat');
  return {
    id: chat ? 'chatcmpl-1' : 'cmpl-1',
    object: chat ? 'chat.completion' : 'text_completion',
    created: CREATED,
    model,
    choices: [
      chat
        ? { index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: 'stop' }
        : { index: 0, text, logprobs: null, finish_reason: 'stop' },
    ],
    usage: usageOf(body, behavior),
  };
}

function sseChunks(
  path: string,
  model: string,
  body: Record<string, unknown>,
  behavior: UpstreamBehavior,
): string[] {
  const chat = path.startsWith('/v1/chat');
  const base = {
    id: chat ? 'chatcmpl-1' : 'cmpl-1',
    object: chat ? 'chat.completion.chunk' : 'text_completion',
    created: CREATED,
    model,
  };
  const event = (value: unknown): string => `data: ${JSON.stringify(value)}\n\n`;
  const choice = (content: string | null, finish: string | null): unknown =>
    chat
      ? { index: 0, delta: content === null ? {} : { content }, logprobs: null, finish_reason: finish }
      : { index: 0, text: content ?? '', logprobs: null, finish_reason: finish };
  const chunks: string[] = [];
  if (chat) {
    chunks.push(
      event({
        ...base,
        choices: [
          { index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null },
        ],
      }),
    );
  }
  for (const token of behavior.tokens) chunks.push(event({ ...base, choices: [choice(token, null)] }));
  chunks.push(event({ ...base, choices: [choice(null, 'stop')] }));
  const options = body['stream_options'] as { include_usage?: boolean } | undefined;
  if (options?.include_usage) chunks.push(event({ ...base, choices: [], usage: usageOf(body, behavior) }));
  chunks.push('data: [DONE]\n\n');
  return chunks;
}
