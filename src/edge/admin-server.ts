/**
 * The admin listener (default port 9090, llm-d's metrics port): GET /metrics, GET /debug/fleet and
 * POST /debug/route (explain a routing decision for a request body; nothing is forwarded). It has
 * no authentication: bind it to an address only operators and Prometheus can reach.
 */
import { performance } from 'node:perf_hooks';
import uWS from 'uWebSockets.js';
import { HttpError, openAiError, statusLine } from '../http/openai-error.ts';
import { readBody } from '../http/read-body.ts';
import type { OpenAiApi } from './edge-request.ts';
import { parseEdgeRequest, parseJsonObject } from './parse-request.ts';
import { resolveRequestId } from './request-id.ts';
import type { RoutingService } from './routing-service.ts';
import { closeApp, listen } from './uws-listen.ts';

/** Anything that renders Prometheus text; a prom-client Registry qualifies. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export interface AdminServerOptions {
  /** Default `0.0.0.0`. */
  readonly host?: string;
  /** Default 9090; 0 picks a free port. */
  readonly port?: number;
  readonly metrics: MetricsSource;
  readonly routing: RoutingService;
  /** Largest /debug/route body. Default 8 MiB. */
  readonly maxBodyBytes?: number;
  /** Session and objective header names, as configured on the edge (for /debug/route). */
  readonly sessionHeader?: string;
  readonly objectiveHeader?: string;
}

const APIS: readonly OpenAiApi[] = ['chat', 'completions', 'embeddings', 'responses'];

export class AdminServer {
  private constructor(
    private readonly app: uWS.TemplatedApp,
    private readonly listenSocket: uWS.us_listen_socket,
    /** The port actually bound. */
    readonly port: number,
  ) {}

  static async start(options: AdminServerOptions): Promise<AdminServer> {
    const app = uWS.App();
    app.get('/metrics', (res) => {
      const aborted = watchAbort(res);
      options.metrics.metrics().then(
        (text) => !aborted.value && res.cork(() => send(res, 200, options.metrics.contentType, text)),
        (error: unknown) => !aborted.value && res.cork(() => sendError(res, asHttpError(error))),
      );
    });
    app.get('/debug/fleet', (res) => {
      try {
        send(res, 200, 'application/json', JSON.stringify(options.routing.fleetDebug()));
      } catch (error) {
        sendError(res, asHttpError(error));
      }
    });
    app.post('/debug/route', (res, req) => {
      const receivedAt = performance.now();
      const headers: Record<string, string> = {};
      req.forEach((name, value) => (headers[name] = value));
      // Documented as '' when absent, but this build returns undefined.
      const requestedApi = req.getQuery('api') ?? '';
      const aborted = { value: false };
      const reader = readBody(res, {
        limitBytes: options.maxBodyBytes ?? 8 * 1024 * 1024,
        contentLength: headers['content-length'] ?? '',
      });
      res.onAborted(() => {
        aborted.value = true;
        reader.abort();
      });
      void (async () => {
        try {
          const raw = await reader.promise;
          const api = resolveApi(requestedApi, raw);
          const request = parseEdgeRequest(api, raw, {
            requestId: resolveRequestId(headers['x-request-id']),
            path: `/debug/route?api=${api}`,
            headers,
            sessionHeader: options.sessionHeader ?? 'x-session-id',
            objectiveHeader: options.objectiveHeader ?? 'x-llm-d-inference-objective',
            receivedAt,
          });
          const trace = await options.routing.explain(request);
          if (!aborted.value) res.cork(() => send(res, 200, 'application/json', JSON.stringify(trace)));
        } catch (error) {
          if (!aborted.value) res.cork(() => sendError(res, asHttpError(error)));
        }
      })();
    });
    app.any('/*', (res, req) => sendError(res, new HttpError(404, `No route for ${req.getUrl()}.`)));
    const listening = await listen(app, options.host ?? '0.0.0.0', options.port ?? 9090);
    return new AdminServer(app, listening.socket, listening.port);
  }

  /** Stop listening and close open connections. */
  close(): void {
    uWS.us_listen_socket_close(this.listenSocket);
    closeApp(this.app);
  }
}

/** `?api=` when given, else inferred from the body: messages → chat, prompt → completions, input → embeddings. */
function resolveApi(requested: string, raw: Buffer): OpenAiApi {
  if (requested !== '') {
    if ((APIS as readonly string[]).includes(requested)) return requested as OpenAiApi;
    throw new HttpError(400, `Unknown api '${requested}'; expected one of ${APIS.join(', ')}.`, 'api');
  }
  const body = parseJsonObject(raw);
  if ('messages' in body) return 'chat';
  if ('prompt' in body) return 'completions';
  if ('input' in body) return 'embeddings';
  throw new HttpError(400, 'Cannot tell the API from the body: expected messages, prompt or input.');
}

function watchAbort(res: uWS.HttpResponse): { value: boolean } {
  const flag = { value: false };
  res.onAborted(() => (flag.value = true));
  return flag;
}

function asHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  return new HttpError(500, error instanceof Error ? error.message : String(error));
}

function send(res: uWS.HttpResponse, status: number, contentType: string, body: string): void {
  res.writeStatus(statusLine(status)).writeHeader('content-type', contentType).end(body);
}

function sendError(res: uWS.HttpResponse, error: HttpError): void {
  send(
    res,
    error.status,
    'application/json',
    JSON.stringify(openAiError(error.status, error.message, error.param)),
  );
}
