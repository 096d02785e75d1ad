/** Unknown paths → 404, known paths with the wrong method → 405; both as OpenAI error bodies. */
import type { TemplatedApp } from 'uWebSockets.js';
import { openAiError } from '../../http/openai-error.ts';
import { sendJson } from './info-routes.ts';

/** Register after every real route: uWS prefers method-specific handlers over `any`. */
export function registerFallbackRoutes(app: TemplatedApp, knownPaths: readonly string[]): void {
  for (const path of knownPaths) {
    app.any(path, (res, req) => {
      sendJson(
        res,
        405,
        openAiError(405, `Method ${req.getCaseSensitiveMethod()} is not allowed on ${path}.`),
      );
    });
  }
  app.any('/*', (res, req) => {
    sendJson(res, 404, openAiError(404, `No route for ${req.getCaseSensitiveMethod()} ${req.getUrl()}.`));
  });
}
