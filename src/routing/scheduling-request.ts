/**
 * Turns what the edge parsed into what the scheduler routes on. The approximate prefix producer
 * needs llm-d's flattening of chat prompts (role immediately followed by content), which differs
 * from the edge's display flattening, so chat bodies are re-flattened here.
 */
import type { EdgeRequest } from '../edge/edge-request.ts';
import { chatPromptText } from '../scheduler/prompt-text.ts';
import type { SchedulingRequest } from '../scheduler/types.ts';

/** Token features computed off the request path (tokenization workers), when configured. */
export interface PromptFeatures {
  readonly tokenIds?: readonly number[];
  readonly blockKeys?: readonly bigint[];
}

/** llm-d's estimate when no tokenizer runs: about four bytes of text per token. */
const BYTES_PER_TOKEN = 4;

export function toSchedulingRequest(
  req: EdgeRequest,
  priority: number,
  features: PromptFeatures = {},
): SchedulingRequest {
  const body = req.body;
  const promptText =
    req.api === 'chat' && Array.isArray(body['messages'])
      ? chatPromptText(body['messages'] as never, body['tools'] as never)
      : req.promptText;
  const cacheSalt = typeof body['cache_salt'] === 'string' ? body['cache_salt'] : undefined;
  return {
    requestId: req.requestId,
    targetModel: req.model,
    promptText,
    promptTokenEstimate:
      features.tokenIds?.length ?? Math.ceil(Buffer.byteLength(promptText) / BYTES_PER_TOKEN),
    ...(features.tokenIds ? { tokenIds: features.tokenIds } : {}),
    ...(features.blockKeys ? { blockKeys: features.blockKeys } : {}),
    ...(cacheSalt ? { cacheSalt } : {}),
    headers: req.headers,
    priority,
    ...(req.sessionId ? { sessionId: req.sessionId } : {}),
    stream: req.stream,
  };
}

/** Tokens a request will occupy on its endpoint: the prompt plus what it may generate. */
export function expectedTokens(req: EdgeRequest, promptTokens: number): number {
  const body = req.body;
  const maxTokens = body['max_completion_tokens'] ?? body['max_tokens'] ?? body['max_output_tokens'];
  return promptTokens + (typeof maxTokens === 'number' && maxTokens > 0 ? maxTokens : 0);
}
