/**
 * POST /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/responses: header limits, auth,
 * body (size-limited while reading), validation, routing decision, proxy. Every failure before the
 * upstream answers is an OpenAI error body.
 */
import { performance } from 'node:perf_hooks';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { HttpError } from '../../http/openai-error.ts';
import { readBody } from '../../http/read-body.ts';
import type { ClientExchange } from '../client-exchange.ts';
import type { EdgeContext } from '../edge-context.ts';
import type { OpenAiApi } from '../edge-request.ts';
import { stripHopByHop } from '../hop-by-hop.ts';
import { parseEdgeRequest } from '../parse-request.ts';
import { CLIENT_CLOSED_STATUS } from '../proxy/upstream-attempt.ts';
import { readRequestHeaders } from '../request-headers.ts';
import { REQUEST_ID_HEADER, resolveRequestId } from '../request-id.ts';

/** Route path → API. */
export const INFERENCE_ROUTES: Readonly<Record<string, OpenAiApi>> = {
  '/v1/chat/completions': 'chat',
  '/v1/completions': 'completions',
  '/v1/embeddings': 'embeddings',
  '/v1/responses': 'responses',
};

export function registerInferenceRoutes(app: TemplatedApp, context: EdgeContext): void {
  for (const [path, api] of Object.entries(INFERENCE_ROUTES)) {
    app.post(path, (res, req) => acceptInference(context, api, res, req));
  }
}

/** Accounting for one inference exchange. */
interface Accounting {
  readonly receivedAt: number;
  requestId: string;
  model: string | undefined;
  endpointId: string;
}

/** Synchronous part: everything that needs the stack-allocated uWS request. */
function acceptInference(context: EdgeContext, api: OpenAiApi, res: HttpResponse, req: HttpRequest): void {
  const accounting: Accounting = {
    receivedAt: performance.now(),
    requestId: '',
    model: undefined,
    endpointId: '',
  };
  const requestId = resolveRequestId(req.getHeader(REQUEST_ID_HEADER) || undefined);
  accounting.requestId = requestId;
  const query = req.getQuery();
  const path = query ? `${req.getUrl()}?${query}` : req.getUrl();
  const exchange = context.exchanges.track(res, [[REQUEST_ID_HEADER, requestId]]);
  context.metrics.inflight.inc();

  let headers: Record<string, string>;
  try {
    headers = stripHopByHop(readRequestHeaders(req, context.config));
    if (context.exchanges.draining) throw new HttpError(503, 'The router is shutting down.');
    context.auth.check(headers['authorization']);
  } catch (error) {
    exchange.respondError(error as HttpError);
    record(context, exchange, accounting);
    return;
  }
  // The router's own key is not a credential for the upstream.
  if (context.auth.enabled) delete headers['authorization'];

  const reader = readBody(res, {
    limitBytes: context.config.maxBodyBytes,
    contentLength: headers['content-length'] ?? '',
  });
  exchange.onAbort(() => reader.abort());

  void (async () => {
    try {
      const raw = await reader.promise;
      exchange.onAbort(null);
      const request = parseEdgeRequest(api, raw, {
        requestId,
        path,
        headers,
        sessionHeader: context.config.sessionHeader,
        objectiveHeader: context.config.objectiveHeader,
        receivedAt: accounting.receivedAt,
      });
      accounting.model = request.model;
      const decision = await context.routing.decide(request);
      if (!exchange.isOpen) return;
      const result = await context.proxy.forward(exchange, request, decision);
      accounting.endpointId = result.endpointId;
    } catch (error) {
      answerFailure(context, exchange, requestId, error);
    } finally {
      record(context, exchange, accounting);
    }
  })();
}

function answerFailure(
  context: EdgeContext,
  exchange: ClientExchange,
  requestId: string,
  error: unknown,
): void {
  if (!exchange.isOpen) return;
  if (error instanceof HttpError) {
    exchange.respondError(error);
    return;
  }
  context.logger.error({ err: error, requestId }, 'inference request failed');
  exchange.respondError(new HttpError(500, 'Internal router error.'));
}

function record(context: EdgeContext, exchange: ClientExchange, accounting: Accounting): void {
  const { metrics } = context;
  const model = metrics.modelLabel(accounting.model);
  const status = exchange.aborted ? CLIENT_CLOSED_STATUS : exchange.status;
  metrics.inflight.dec();
  metrics.requests.inc({ model, status: String(status), endpoint: accounting.endpointId });
  const durationMs = performance.now() - accounting.receivedAt;
  metrics.duration.observe({ model }, durationMs / 1000);
  // One line per request at debug level (a disabled level costs one comparison).
  context.logger.debug(
    {
      requestId: accounting.requestId,
      model: accounting.model,
      status,
      endpoint: accounting.endpointId,
      durationMs: Math.round(durationMs),
    },
    'request',
  );
}
