/**
 * Forwards a routed request: tries the decision's endpoints in order (first, then up to
 * `maxRetries` more while nothing has reached the client), takes a dispatch lease per attempt and
 * releases it with the outcome, and records TTFT.
 */
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { HttpError } from '../../http/openai-error.ts';
import type { ClientExchange, HeaderPairs } from '../client-exchange.ts';
import type { EdgeConfig } from '../edge-config.ts';
import type { EdgeMetrics } from '../edge-metrics.ts';
import type { EdgeRequest } from '../edge-request.ts';
import { REQUEST_ID_HEADER } from '../request-id.ts';
import type { DispatchLease, DispatchOutcome, RoutingDecision, RoutingService } from '../routing-service.ts';
import { UpstreamAttempt, type AttemptResult } from './upstream-attempt.ts';
import type { UpstreamPools } from './upstream-pools.ts';

/** Request headers the proxy sets itself or that undici must compute (never copied from the client). */
// The P/D hop headers are the router's to set (from the decision); a client must not steer them.
const REQUEST_DROP = new Set([
  'host',
  'content-length',
  'expect',
  'x-prefiller-host-port',
  'x-encoder-hosts-ports',
  REQUEST_ID_HEADER,
]);

export interface ForwardResult {
  /** Endpoint of the last attempt ('' when none was tried). */
  readonly endpointId: string;
}

export class EdgeProxy {
  private readonly responseDrop: ReadonlySet<string>;

  constructor(
    private readonly config: EdgeConfig,
    private readonly routing: RoutingService,
    private readonly pools: UpstreamPools,
    private readonly metrics: EdgeMetrics,
    private readonly logger: Logger,
  ) {
    // uWS writes its own Date and `uWebSockets` headers; the upstream's copies would be duplicates.
    const drop = new Set(['content-length', 'date', 'uwebsockets', REQUEST_ID_HEADER]);
    if (config.endpointHeader !== '') drop.add(config.endpointHeader);
    this.responseDrop = drop;
  }

  /** Forward `request` and relay the response into `exchange`; resolves when the exchange is over. */
  async forward(
    exchange: ClientExchange,
    request: EdgeRequest,
    decision: RoutingDecision,
  ): Promise<ForwardResult> {
    const candidates = decision.endpoints;
    if (candidates.length === 0) throw new HttpError(503, 'No endpoint available for this request.');
    const upstream = this.config.upstream;
    const attempts = Math.min(candidates.length, 1 + upstream.maxRetries);
    const dispatch: Dispatcher.DispatchOptions = {
      path: request.path,
      method: 'POST',
      headers: this.upstreamHeaders(request, decision),
      body: request.rawBody,
    };
    let endpointId = '';
    for (let i = 0; i < attempts && exchange.isOpen; i++) {
      const endpoint = candidates[i]!;
      endpointId = endpoint.id;
      const lease = this.routing.dispatched(request, decision, endpoint.id);
      const attempt = new UpstreamAttempt(exchange, endpoint, {
        canRetry: i + 1 < attempts,
        config: upstream,
        metrics: this.metrics,
        // A streamed response's first byte is its first token; a buffered one's is its last.
        onFirstByte: (streaming) => {
          if (streaming) this.notifyFirstToken(lease, request);
        },
        relay: {
          maxBufferedBytes: upstream.maxBufferedBytes,
          addHeaders: this.endpointHeaders(endpoint.id),
          dropHeaders: this.responseDrop,
          bufferedBytes: this.metrics.bufferedBytes,
        },
      }).start(this.pools.get(endpoint), dispatch);
      const result = await attempt.result;
      this.release(lease, result, request);
      if (result.kind === 'retry') {
        this.metrics.retries.inc({ reason: result.reason });
        this.logger.warn(
          {
            requestId: request.requestId,
            endpoint: endpoint.id,
            reason: result.reason,
            detail: result.detail,
          },
          'upstream attempt failed, retrying on the next endpoint',
        );
        continue;
      }
      if (result.firstByteAt !== undefined) {
        this.metrics.ttft.observe(
          { model: this.metrics.modelLabel(request.model), streaming: String(result.streaming) },
          (result.firstByteAt - request.receivedAt) / 1000,
        );
      }
      break;
    }
    return { endpointId };
  }

  private notifyFirstToken(lease: DispatchLease, request: EdgeRequest): void {
    try {
      lease.firstToken?.();
    } catch (error) {
      this.logger.error({ err: error, requestId: request.requestId }, 'dispatch lease firstToken threw');
    }
  }

  private release(lease: DispatchLease, result: AttemptResult, request: EdgeRequest): void {
    const outcome: DispatchOutcome =
      result.kind === 'retry'
        ? { ok: false }
        : {
            ok: result.ok,
            ...result.usage,
            // A buffered response's first byte is its last: only a stream's first byte is a TTFT.
            ...(result.firstByteAt !== undefined && result.streaming
              ? { ttftMs: result.firstByteAt - result.dispatchedAt }
              : {}),
          };
    try {
      lease.release(outcome);
    } catch (error) {
      this.logger.error({ err: error, requestId: request.requestId }, 'dispatch lease release threw');
    }
  }

  private endpointHeaders(endpointId: string): HeaderPairs {
    return this.config.endpointHeader === '' ? [] : [[this.config.endpointHeader, endpointId]];
  }

  private upstreamHeaders(request: EdgeRequest, decision: RoutingDecision): Record<string, string> {
    const headers: Record<string, string> = {};
    for (const name in request.headers) {
      if (!REQUEST_DROP.has(name)) headers[name] = request.headers[name]!;
    }
    for (const name in decision.requestHeaders) headers[name.toLowerCase()] = decision.requestHeaders[name]!;
    headers[REQUEST_ID_HEADER] = request.requestId;
    if (this.config.upstream.authorization !== null)
      headers['authorization'] = this.config.upstream.authorization;
    return headers;
  }
}
