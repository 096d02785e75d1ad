import { randomUUID } from 'node:crypto';

/** Header carrying the request id, in and out (llm-d and vLLM use the same name). */
export const REQUEST_ID_HEADER = 'x-request-id';

/** Visible ASCII only, bounded: the id is echoed in headers and logs. */
const ACCEPTABLE_ID = /^[\x21-\x7e]{1,128}$/;

/** The client's request id when it is a safe header value, otherwise a fresh UUID. */
export function resolveRequestId(fromClient: string | undefined): string {
  return fromClient !== undefined && ACCEPTABLE_ID.test(fromClient) ? fromClient : randomUUID();
}
