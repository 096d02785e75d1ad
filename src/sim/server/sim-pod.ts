/**
 * One simulated vLLM pod: an engine on a real-time clock behind an OpenAI-compatible HTTP server
 * (uWebSockets.js), with vLLM's metrics and ZeroMQ KV events, plus fault injection. Several pods
 * run in one process (see SimFleet); each has its own engine, port and event stream.
 */
import uWS from 'uWebSockets.js';
import type { ZodError } from 'zod';
import { randomUUID } from 'node:crypto';
import { HttpError, openAiError, statusLine } from '../../http/openai-error.ts';
import { readBody } from '../../http/read-body.ts';
import { createVllmBlockHasher } from '../../kv-protocol/vllm-block-hash.ts';
import { KvEventPublisher } from '../kv-events/publisher.ts';
import { RealClock } from '../engine/real-clock.ts';
import { createEngine, type SimEngine } from '../engine/engine.ts';
import type { EngineRequest, RequestResult } from '../engine/types.ts';
import { CompletionWriter } from './completion-writer.ts';
import { FaultState } from './faults.ts';
import { loadPodTokenizer, type PodTokenizer } from './pod-tokenizer.ts';
import {
  type ChatCompletionRequest,
  type CompletionRequest,
  chatCompletionRequest,
  completionRequest,
  describeIssue,
} from './request-schema.ts';
import type { SimPodConfig } from './sim-pod-config.ts';
import { VllmMetrics } from './vllm-metrics.ts';

type Kind = 'chat' | 'completion';

/** A running simulated pod. Create with `SimPod.start(config)`. */
export class SimPod {
  private app: uWS.TemplatedApp | null = null;
  private listenSocket: uWS.us_listen_socket | null = null;
  private engine!: SimEngine;
  private publisher: KvEventPublisher | null = null;
  private metrics!: VllmMetrics;
  private readonly faults = new FaultState();
  private readonly open = new Set<uWS.HttpResponse>();
  private crashed = false;
  private boundPort = 0;
  private restarts = 0;

  private constructor(
    readonly config: SimPodConfig,
    private readonly tokenizer: PodTokenizer,
  ) {}

  static async start(config: SimPodConfig): Promise<SimPod> {
    const tokenizer = await loadPodTokenizer(config.tokenizer);
    const pod = new SimPod(config, tokenizer);
    await pod.boot(config.port);
    return pod;
  }

  /** The HTTP port actually bound. */
  get port(): number {
    return this.boundPort;
  }

  get address(): string {
    return `${this.config.host}:${this.boundPort}`;
  }

  get isUp(): boolean {
    return !this.crashed;
  }

  /** Models this pod answers to: the base model and each LoRA adapter. */
  get models(): readonly string[] {
    return [this.config.engine.model, ...this.config.loraModules];
  }

  get faultState(): FaultState {
    return this.faults;
  }

  get engineStats(): ReturnType<SimEngine['stats']> {
    return this.engine.stats();
  }

  /** Crash: every socket closes at once, in-flight requests are cut, KV events stop. */
  async crash(): Promise<void> {
    if (this.crashed) return;
    this.crashed = true;
    if (this.listenSocket) uWS.us_listen_socket_close(this.listenSocket);
    this.listenSocket = null;
    for (const res of [...this.open]) {
      try {
        res.close();
      } catch {
        // Already closed by the peer.
      }
    }
    this.open.clear();
    this.engine.abortAll();
    await this.publisher?.close();
    this.publisher = null;
  }

  /** Restart after a crash (or from running): fresh engine state and a KV-event sequence from 0. */
  async restart(): Promise<void> {
    await this.crash();
    this.restarts += 1;
    await this.boot(this.boundPort);
  }

  async stop(): Promise<void> {
    await this.crash();
  }

  private async boot(port: number): Promise<void> {
    // Until the engine exists, connections are closed as if the pod were down.
    this.crashed = true;
    const clock = new RealClock(this.config.speed);
    const hasher = createVllmBlockHasher({
      algo: this.config.engine.hashAlgo,
      pythonHashSeed: this.config.engine.pythonHashSeed,
    });
    this.app ??= this.buildApp();
    await this.listenOn(port);
    if (this.config.kvEvents) {
      this.publisher = await KvEventPublisher.open({
        endpoint: this.config.kvEvents.endpoint,
        replayEndpoint: this.config.kvEvents.replayEndpoint,
        // `{port}` lets a fleet on free ports name the port it actually bound.
        topic: this.config.kvEvents.topic.replace('{port}', String(this.boundPort)),
        format: this.config.kvEvents.format,
        hashType: this.config.kvEvents.hashType,
        bufferSteps: this.config.kvEvents.bufferSteps,
      });
    }
    const publisher = this.publisher;
    this.engine = createEngine(this.config.engine, clock, {
      hashBlock: hasher.hashBlock,
      hooks: {
        onKvEvents: (events) => {
          if (!publisher) return;
          if (this.faults.current.dropKvBatches > 0) {
            this.faults.update({ dropKvBatches: this.faults.current.dropKvBatches - 1 });
            publisher.dropNextBatches(1);
          }
          publisher.publish({ ts: Date.now() / 1000, events, dataParallelRank: 0 });
        },
      },
    });
    this.metrics ??= new VllmMetrics(this.config.engine.model, {
      stats: () => this.engine.stats(),
      maxLoras: this.config.engine.maxLoras,
    });
    this.crashed = false;
  }

  /**
   * Bind the HTTP port. uWS sets SO_REUSEPORT only when given an explicit port, and sockets
   * accepted by a listener inherit its flags: had the pod served on a port-0 listener, the
   * connections (or TIME_WAIT remnants) it leaves behind on a crash would make the restart's bind
   * on that port fail with EADDRINUSE. So for port 0 a free port is found first, then bound
   * explicitly, before anything can connect.
   */
  private async listenOn(port: number): Promise<void> {
    if (port !== 0) {
      this.listenSocket = await this.bind(port);
      return;
    }
    for (let attempt = 1; ; attempt++) {
      const probe = await this.bind(0);
      const free = this.boundPort;
      uWS.us_listen_socket_close(probe);
      try {
        this.listenSocket = await this.bind(free);
        return;
      } catch (error) {
        // Taken by someone else in between: try another.
        if (attempt >= 5) throw error;
      }
    }
  }

  private bind(port: number): Promise<uWS.us_listen_socket> {
    return new Promise((resolve, reject) => {
      this.app!.listen(this.config.host, port, (sock) => {
        if (!sock) {
          reject(new Error(`sim pod ${this.config.name}: cannot listen on ${this.config.host}:${port}`));
          return;
        }
        this.boundPort = uWS.us_socket_local_port(sock as unknown as uWS.us_socket);
        resolve(sock);
      });
    });
  }

  private buildApp(): uWS.TemplatedApp {
    const app = uWS.App();
    app.post('/v1/chat/completions', (res, req) => this.handleCompletion(res, req, 'chat'));
    app.post('/v1/completions', (res, req) => this.handleCompletion(res, req, 'completion'));
    app.get('/v1/models', (res) => this.guard(res, () => this.sendJson(res, 200, this.modelList())));
    app.get('/health', (res) => this.guard(res, () => this.sendText(res, 200, '')));
    app.get('/metrics', (res) => this.handleMetrics(res));
    app.post('/reset_prefix_cache', (res) =>
      this.guard(res, () => {
        const ok = this.engine.resetPrefixCache();
        this.sendText(res, ok ? 200 : 500, ok ? '' : 'Failed to reset prefix cache: blocks in use.');
      }),
    );
    app.get('/admin/faults', (res) => this.guard(res, () => this.sendJson(res, 200, this.faults.current)));
    app.post('/admin/faults', (res, req) => this.handleFaults(res, req));
    app.post('/admin/crash', (res) =>
      this.guard(res, () => {
        this.sendJson(res, 200, { crashed: true });
        setImmediate(() => void this.crash());
      }),
    );
    app.post('/admin/restart', (res) =>
      this.guard(res, () => {
        this.sendJson(res, 200, { restarting: true });
        setImmediate(() => void this.restart());
      }),
    );
    app.any('/*', (res, req) =>
      this.guard(res, () =>
        this.sendJson(
          res,
          404,
          openAiError(404, `No route for ${req.getMethod().toUpperCase()} ${req.getUrl()}`),
        ),
      ),
    );
    return app;
  }

  /** A crashed pod closes any connection that still reaches it (kept-alive sockets). */
  private guard(res: uWS.HttpResponse, fn: () => void): void {
    if (this.crashed) {
      res.close();
      return;
    }
    fn();
  }

  private handleMetrics(res: uWS.HttpResponse): void {
    if (this.crashed) {
      res.close();
      return;
    }
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    void this.metrics.render().then((text) => {
      if (aborted) return;
      res.cork(() => {
        res.writeStatus(statusLine(200));
        res.writeHeader('content-type', 'text/plain; version=0.0.4; charset=utf-8');
        res.end(text);
      });
    });
  }

  private handleFaults(res: uWS.HttpResponse, req: uWS.HttpRequest): void {
    if (this.crashed) {
      res.close();
      return;
    }
    const reader = readBody(res, { limitBytes: 64 * 1024, contentLength: req.getHeader('content-length') });
    res.onAborted(() => reader.abort());
    reader.promise.then(
      (body) => {
        try {
          const updated = this.faults.update(body.length ? JSON.parse(body.toString('utf8')) : {});
          this.sendJsonCorked(res, 200, updated);
        } catch (err) {
          this.sendJsonCorked(
            res,
            400,
            openAiError(400, `Invalid fault configuration: ${(err as Error).message}`),
          );
        }
      },
      () => undefined,
    );
  }

  private handleCompletion(res: uWS.HttpResponse, req: uWS.HttpRequest, kind: Kind): void {
    if (this.crashed) {
      res.close();
      return;
    }
    const requestId = req.getHeader('x-request-id') || randomUUID().replaceAll('-', '');
    const reader = readBody(res, {
      limitBytes: this.config.maxBodyBytes,
      contentLength: req.getHeader('content-length'),
    });
    this.open.add(res);
    let writer: CompletionWriter | null = null;
    let engineId: string | null = null;
    res.onAborted(() => {
      this.open.delete(res);
      reader.abort();
      writer?.markAborted();
      if (engineId) this.engine.abort(engineId);
    });
    const fail = (err: unknown): void => {
      if (writer?.isAborted || !this.open.has(res)) return;
      const httpErr =
        err instanceof HttpError
          ? err
          : new HttpError(500, `Internal error: ${(err as Error).message ?? err}`);
      this.open.delete(res);
      this.sendJsonCorked(res, httpErr.status, httpErr.toBody());
    };
    reader.promise
      .then(async (raw) => {
        const status = this.faults.drawError();
        if (status !== null) throw new HttpError(status, `Injected fault: ${status}`);
        const delay = this.faults.current.addedLatencyMs;
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        const body = parseJson(raw);
        const prepared = kind === 'chat' ? await this.prepareChat(body) : await this.prepareCompletion(body);
        if (!this.open.has(res)) return;
        const { request, stream, includeUsage, continuousUsage, model } = prepared;
        engineId = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${requestId}`;
        const faults = this.faults.current;
        writer = new CompletionWriter(res, {
          kind,
          ident: { id: engineId, created: Math.floor(Date.now() / 1000), model },
          stream,
          includeUsage,
          continuousUsage,
          promptTokens: request.promptTokenIds.length,
          decodeToken: (id) => this.tokenizer.decodeToken(id),
          headers: [
            ['x-request-id', requestId],
            ['x-kvedge-sim-pod', this.config.name],
          ],
          stallAfterTokens: faults.stallAfterTokens,
          stallMs: faults.stallMs,
          kvTransferParams: (result) => this.kvTransferParams(request, result),
          onDone: (result) => {
            this.open.delete(res);
            this.metrics.observeFinished(result);
          },
        });
        const outcome = this.engine.submit({ ...request, id: engineId }, writer);
        if (!outcome.ok) {
          throw new HttpError(outcome.reason === 'queue_full' ? 429 : 400, outcome.message);
        }
      })
      .catch(fail);
  }

  private async prepareChat(body: unknown): Promise<Prepared> {
    const parsed = chatCompletionRequest.safeParse(body);
    if (!parsed.success) throw badRequest(parsed.error);
    const r: ChatCompletionRequest = parsed.data;
    const lora = this.resolveModel(r.model);
    const tokens = await this.tokenizer.tokenizeChat(r);
    return this.prepared(r, lora, tokens, r.max_completion_tokens ?? r.max_tokens ?? null);
  }

  private async prepareCompletion(body: unknown): Promise<Prepared> {
    const parsed = completionRequest.safeParse(body);
    if (!parsed.success) throw badRequest(parsed.error);
    const r: CompletionRequest = parsed.data;
    const lora = this.resolveModel(r.model);
    const prompts = await this.tokenizer.tokenizeCompletion(r.prompt);
    if (prompts.length !== 1) {
      throw new HttpError(
        400,
        'The simulator serves one prompt per request; send a batch as separate requests.',
        'prompt',
      );
    }
    return this.prepared(r, lora, prompts[0]!, r.max_tokens ?? null);
  }

  private prepared(
    r: ChatCompletionRequest | CompletionRequest,
    lora: string | null,
    promptTokenIds: number[],
    maxTokensRequested: number | null,
  ): Prepared {
    const maxModelLen = this.config.engine.maxModelLen;
    const remaining = maxModelLen - promptTokenIds.length;
    if (
      remaining <= 0 ||
      (maxTokensRequested !== null && promptTokenIds.length + maxTokensRequested > maxModelLen)
    ) {
      const asked = maxTokensRequested ?? 1;
      throw new HttpError(
        400,
        `This model's maximum context length is ${maxModelLen} tokens. However, you requested ` +
          `${promptTokenIds.length + asked} tokens (${promptTokenIds.length} in the messages, ${asked} in the ` +
          'completion). Please reduce the length of the messages or completion.',
        'messages',
      );
    }
    const remoteDecode = r.kv_transfer_params?.do_remote_decode === true;
    const remotePrefill = r.kv_transfer_params?.do_remote_prefill === true;
    // vLLM's prefill side of P/D runs with max_tokens forced to 1.
    const maxTokens = remoteDecode
      ? 1
      : (maxTokensRequested ?? Math.min(remaining, this.config.defaultMaxTokens));
    const request: Omit<EngineRequest, 'id'> & { id: string } = {
      id: '',
      promptTokenIds,
      maxTokens,
      loraName: lora,
      cacheSalt: r.cache_salt ?? null,
      outputTokenIds: this.tokenizer.outputTokens(promptTokenIds, maxTokens),
      remoteDecode,
      remotePrefill,
      priority: r.priority ?? 0,
    };
    return {
      request,
      stream: r.stream === true,
      includeUsage: r.stream_options?.include_usage === true,
      continuousUsage: r.stream_options?.continuous_usage_stats === true,
      model: r.model,
    };
  }

  /** Returns the LoRA adapter name, or null for the base model; 404 for anything else. */
  private resolveModel(model: string): string | null {
    if (model === this.config.engine.model) return null;
    if (this.config.loraModules.includes(model)) return model;
    throw new HttpError(404, `The model \`${model}\` does not exist.`, 'model');
  }

  private kvTransferParams(request: EngineRequest, result: RequestResult): unknown {
    if (!request.remoteDecode) return null;
    const blockSize = this.config.engine.blockSize;
    const blocks = Math.ceil(result.promptTokens / blockSize);
    return {
      do_remote_prefill: true,
      do_remote_decode: false,
      remote_block_ids: Array.from({ length: blocks }, (_, i) => i),
      remote_engine_id: this.config.name,
      remote_host: this.config.host,
      remote_port: this.boundPort,
      tp_size: 1,
    };
  }

  private modelList(): unknown {
    const created = Math.floor(Date.now() / 1000);
    const base = this.config.engine.model;
    return {
      object: 'list',
      data: this.models.map((id) => ({
        id,
        object: 'model',
        created,
        owned_by: 'vllm',
        root: id === base ? base : id,
        parent: id === base ? null : base,
        max_model_len: this.config.engine.maxModelLen,
      })),
    };
  }

  private sendJson(res: uWS.HttpResponse, status: number, body: unknown): void {
    res.writeStatus(statusLine(status));
    res.writeHeader('content-type', 'application/json');
    res.end(JSON.stringify(body));
  }

  private sendJsonCorked(res: uWS.HttpResponse, status: number, body: unknown): void {
    res.cork(() => this.sendJson(res, status, body));
  }

  private sendText(res: uWS.HttpResponse, status: number, text: string): void {
    res.writeStatus(statusLine(status));
    res.end(text);
  }
}

interface Prepared {
  readonly request: EngineRequest;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  readonly continuousUsage: boolean;
  readonly model: string;
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, `Request body is not valid JSON: ${(err as Error).message}`);
  }
}

function badRequest(error: ZodError): HttpError {
  const { message, param } = describeIssue(error);
  return new HttpError(400, message, param);
}
