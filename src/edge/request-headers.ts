/**
 * Reads a uWS request's headers once, inside the handler (uWS requests are stack allocated), and
 * enforces our header limits.
 */
import type { HttpRequest } from 'uWebSockets.js';
import { HttpError } from '../http/openai-error.ts';

export interface HeaderLimits {
  /** More fields than this → 431. */
  readonly maxHeaderCount: number;
  /** More name + value characters than this → 431. */
  readonly maxHeaderBytes: number;
}

/**
 * All request headers as a lower-case map; repeated fields are joined with `, ` (RFC 9110 §5.3).
 * Throws HttpError(431) when a limit is exceeded.
 */
export function readRequestHeaders(req: HttpRequest, limits: HeaderLimits): Record<string, string> {
  const headers: Record<string, string> = {};
  let count = 0;
  let bytes = 0;
  req.forEach((name, value) => {
    count++;
    bytes += name.length + value.length;
    const previous = headers[name];
    headers[name] = previous === undefined ? value : `${previous}, ${value}`;
  });
  if (count > limits.maxHeaderCount) {
    throw new HttpError(431, `Too many request headers: ${count} (limit ${limits.maxHeaderCount}).`);
  }
  if (bytes > limits.maxHeaderBytes) {
    throw new HttpError(431, `Request headers too large: ${bytes} bytes (limit ${limits.maxHeaderBytes}).`);
  }
  return headers;
}
