/** GET /v1/models, /health and /ready. */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { type HttpError, openAiError, statusLine } from '../../http/openai-error.ts';
import type { EdgeContext } from '../edge-context.ts';

const JSON_HEADERS = [['content-type', 'application/json']] as const;

export function registerInfoRoutes(app: TemplatedApp, context: EdgeContext): void {
  const startedAt = Math.floor(Date.now() / 1000);

  app.get('/health', (res) => sendJson(res, 200, { status: 'ok' }));

  app.get('/ready', (res) => {
    if (context.exchanges.draining) sendJson(res, 503, openAiError(503, 'The router is shutting down.'));
    else if (!context.routing.ready()) sendJson(res, 503, openAiError(503, 'No ready endpoint.'));
    else sendJson(res, 200, { status: 'ready' });
  });

  app.get('/v1/models', (res, req: HttpRequest) => {
    try {
      context.auth.check(req.getHeader('authorization') || undefined);
    } catch (error) {
      sendJson(res, 401, (error as HttpError).toBody());
      return;
    }
    const data = context.routing
      .models()
      .map((id) => ({ id, object: 'model', created: startedAt, owned_by: 'kvedge' }));
    sendJson(res, 200, { object: 'list', data });
  });
}

/** Answer synchronously inside a uWS handler (already corked there). */
export function sendJson(res: HttpResponse, status: number, body: unknown): void {
  res.writeStatus(statusLine(status));
  for (const [name, value] of JSON_HEADERS) res.writeHeader(name, value);
  res.end(JSON.stringify(body));
}
