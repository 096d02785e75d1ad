/**
 * OpenAI-style error bodies, shaped as vLLM returns them:
 * `{"error": {"message", "type", "param", "code"}}` with the HTTP status repeated in `code`.
 */

/** uWS wants the full status line ("404 Not Found"). */
const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** `"404 Not Found"` for uWS `writeStatus`. */
export function statusLine(status: number): string {
  return `${status} ${STATUS_TEXT[status] ?? 'Unknown'}`;
}

const ERROR_TYPE: Readonly<Record<number, string>> = {
  400: 'BadRequestError',
  401: 'AuthenticationError',
  403: 'PermissionDeniedError',
  404: 'NotFoundError',
  405: 'BadRequestError',
  408: 'TimeoutError',
  413: 'BadRequestError',
  415: 'BadRequestError',
  429: 'RateLimitError',
  431: 'BadRequestError',
  500: 'InternalServerError',
  502: 'BadGatewayError',
  503: 'ServiceUnavailableError',
  504: 'GatewayTimeoutError',
};

export interface OpenAiErrorBody {
  readonly error: {
    readonly message: string;
    readonly type: string;
    readonly param: string | null;
    readonly code: number;
  };
}

/** The JSON error body for `status`, with an optional offending parameter name. */
export function openAiError(status: number, message: string, param: string | null = null): OpenAiErrorBody {
  return { error: { message, type: ERROR_TYPE[status] ?? 'APIError', param, code: status } };
}

/** An error that carries the HTTP status and OpenAI body it should be answered with. */
export class HttpError extends Error {
  readonly status: number;
  readonly param: string | null;

  constructor(status: number, message: string, param: string | null = null) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.param = param;
  }

  toBody(): OpenAiErrorBody {
    return openAiError(this.status, this.message, this.param);
  }
}
