/**
 * Turns a request body into an EdgeRequest: JSON parse, schema validation of the routing fields,
 * prompt flattening. Every failure is an HttpError(400) naming the field, as OpenAI does.
 */
import { HttpError } from '../http/openai-error.ts';
import type { EdgeRequest, OpenAiApi } from './edge-request.ts';
import { chatPromptText, promptListText, responsesPromptText } from './prompt-text.ts';
import {
  REQUEST_SCHEMAS,
  describeIssue,
  type ChatRequestBody,
  type CompletionsRequestBody,
  type EmbeddingsRequestBody,
  type ResponsesRequestBody,
} from './request-schema.ts';

/** Everything about the request that is not in its body. */
export interface RequestContext {
  readonly requestId: string;
  readonly path: string;
  /** End-to-end headers, lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly sessionHeader: string;
  readonly objectiveHeader: string;
  readonly receivedAt: number;
}

/** The body as a JSON object; 400 for anything else (invalid UTF-8/JSON, arrays, scalars). */
export function parseJsonObject(raw: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new HttpError(400, 'We could not parse the JSON body of your request. Expected a JSON object.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(400, 'The request body must be a JSON object.');
  }
  return value as Record<string, unknown>;
}

/** Validate `raw` as a body of `api` and build the EdgeRequest. */
export function parseEdgeRequest(api: OpenAiApi, raw: Buffer, context: RequestContext): EdgeRequest {
  const body = parseJsonObject(raw);
  const result = REQUEST_SCHEMAS[api].safeParse(body);
  if (!result.success) {
    const { message, param } = describeIssue(result.error, body);
    throw new HttpError(400, message, param);
  }
  const valid = result.data;
  return {
    requestId: context.requestId,
    api,
    path: context.path,
    model: valid.model,
    body,
    rawBody: raw,
    stream: 'stream' in valid && valid.stream === true,
    promptText: promptTextOf(api, valid),
    headers: context.headers,
    objective: context.headers[context.objectiveHeader],
    sessionId: context.headers[context.sessionHeader],
    receivedAt: context.receivedAt,
  };
}

function promptTextOf(api: OpenAiApi, valid: unknown): string {
  switch (api) {
    case 'chat':
      return chatPromptText(valid as ChatRequestBody);
    case 'completions':
      return promptListText((valid as CompletionsRequestBody).prompt);
    case 'embeddings':
      return promptListText((valid as EmbeddingsRequestBody).input);
    case 'responses':
      return responsesPromptText(valid as ResponsesRequestBody);
  }
}
