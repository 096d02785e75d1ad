/**
 * What the edge validates in each API's body: only the fields routing depends on (model, the
 * prompt-bearing field, stream). Everything else passes through untouched, because the upstream
 * receives the original bytes and vLLM does its own full validation.
 */
import { z } from 'zod';
import type { OpenAiApi } from './edge-request.ts';

const model = z.string({ error: 'must be a string' }).min(1, 'must not be empty');
const stream = z.boolean({ error: 'must be a boolean' }).nullish();

const tokenIds = z.array(z.number().int().nonnegative());
/** OpenAI's prompt/input shapes: text, texts, token ids, batches of token ids. */
const textOrTokens = z.union([z.string(), z.array(z.string()), tokenIds, z.array(tokenIds)], {
  error: 'must be a string, an array of strings, an array of token ids or an array of token-id arrays',
});

const contentPart = z.looseObject({ type: z.string({ error: 'must be a string' }) });
const content = z.union([z.string(), z.array(z.union([z.string(), contentPart])), z.null()], {
  error: 'must be a string, an array of content parts or null',
});

const chatMessage = z.looseObject({
  role: z.string({ error: 'must be a string' }),
  content: content.optional(),
});

export const chatRequestSchema = z.looseObject({
  model,
  messages: z.array(chatMessage, { error: 'must be an array of messages' }).min(1, 'must not be empty'),
  stream,
});

export const completionsRequestSchema = z.looseObject({ model, prompt: textOrTokens, stream });

export const embeddingsRequestSchema = z.looseObject({ model, input: textOrTokens });

const responsesItem = z.looseObject({ content: content.optional() });

export const responsesRequestSchema = z.looseObject({
  model,
  input: z.union([z.string(), z.array(responsesItem)], { error: 'must be a string or an array of items' }),
  instructions: z.string({ error: 'must be a string' }).nullish(),
  stream,
});

export type ChatRequestBody = z.output<typeof chatRequestSchema>;
export type CompletionsRequestBody = z.output<typeof completionsRequestSchema>;
export type EmbeddingsRequestBody = z.output<typeof embeddingsRequestSchema>;
export type ResponsesRequestBody = z.output<typeof responsesRequestSchema>;

/** The schema that validates each API's body. */
export const REQUEST_SCHEMAS = {
  chat: chatRequestSchema,
  completions: completionsRequestSchema,
  embeddings: embeddingsRequestSchema,
  responses: responsesRequestSchema,
} as const satisfies Record<OpenAiApi, z.ZodType>;

/**
 * The first issue as an OpenAI-style message plus the dotted path of the offending field. `body`
 * is the validated input, used to tell a missing field from a wrong one.
 */
export function describeIssue(error: z.ZodError, body: unknown): { message: string; param: string | null } {
  const issue = error.issues[0];
  if (!issue) return { message: 'Invalid request body.', param: null };
  const param = issue.path.length > 0 ? issue.path.map(String).join('.') : null;
  if (param === null) return { message: issue.message, param };
  return {
    message:
      valueAt(body, issue.path) === undefined
        ? `Missing required parameter: '${param}'.`
        : `Invalid '${param}': ${issue.message}.`,
    param,
  };
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}
