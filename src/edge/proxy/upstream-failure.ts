/**
 * Upstream attempt failures: what kind they are (metrics label, retry decision) and what the
 * client is told when nothing of the response has been sent yet.
 */
import { HttpError } from '../../http/openai-error.ts';
import type { UpstreamErrorKind } from '../edge-metrics.ts';

/** A failure the proxy itself raises (timeouts, slow client), carrying its kind. */
export class UpstreamFailure extends Error {
  constructor(
    readonly kind: UpstreamErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'UpstreamFailure';
  }
}

/** The client went away; the upstream request is cancelled with this reason. */
export class ClientGoneError extends Error {
  constructor() {
    super('client closed the connection');
    this.name = 'ClientGoneError';
  }
}

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ECONNABORTED']);

/** Kind of an undici or proxy error. */
export function failureKind(error: Error): UpstreamErrorKind {
  if (error instanceof UpstreamFailure) return error.kind;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return 'other';
  if (CONNECT_CODES.has(code)) return 'connect';
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'connect_timeout';
  if (RESET_CODES.has(code)) return 'reset';
  return 'other';
}

/**
 * Kinds that are safe to retry on another endpoint when they happen before the upstream sent any
 * response: the request was either never delivered or the endpoint died while holding it.
 * Timeouts waiting for the first byte are not retried: the endpoint may still be prefilling, and a
 * retry would double the work exactly when the fleet is slow.
 */
export function isRetryableKind(kind: UpstreamErrorKind): boolean {
  return kind === 'connect' || kind === 'connect_timeout' || kind === 'reset';
}

/** The error response for a failure that happened before anything was sent to the client. */
export function clientErrorFor(kind: UpstreamErrorKind, endpointId: string, error: Error): HttpError {
  switch (kind) {
    case 'connect_timeout':
      return new HttpError(504, `Timed out connecting to upstream ${endpointId}.`);
    case 'first_byte_timeout':
    case 'idle_timeout':
      return new HttpError(504, `Upstream ${endpointId} timed out: ${error.message}.`);
    default:
      return new HttpError(502, `Upstream ${endpointId} failed: ${error.message}.`);
  }
}
