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
  const tokenIds =
    features.tokenIds ?? (req.api === 'completions' ? tokenIdPrompt(body['prompt']) : undefined);
  return {
    requestId: req.requestId,
    targetModel: req.model,
    promptText,
    promptTokenEstimate: tokenIds?.length ?? Math.ceil(Buffer.byteLength(promptText) / BYTES_PER_TOKEN),
    ...(tokenIds ? { tokenIds } : {}),
    ...(features.blockKeys ? { blockKeys: features.blockKeys } : {}),
    ...(cacheSalt ? { cacheSalt } : {}),
    headers: req.headers,
    priority,
    ...(req.sessionId ? { sessionId: req.sessionId } : {}),
    stream: req.stream,
  };
}

/**
 * A completions prompt given as token ids (`[1, 2, 3]`, or one such list in a batch of one): the
 * ids are the prompt, so the approximate producer hashes them. It has no text to hash otherwise,
 * and would route such requests on load alone.
 */
export function tokenIdPrompt(prompt: unknown): readonly number[] | undefined {
  const ids = Array.isArray(prompt) && prompt.length === 1 && Array.isArray(prompt[0]) ? prompt[0] : prompt;
  if (!Array.isArray(ids) || ids.length === 0) return undefined;
  for (const id of ids) if (!Number.isInteger(id)) return undefined;
  return ids as number[];
}

/** Tokens a request will occupy on its endpoint: the prompt plus what it may generate. */
export function expectedTokens(req: EdgeRequest, promptTokens: number): number {
  const body = req.body;
  const maxTokens = body['max_completion_tokens'] ?? body['max_tokens'] ?? body['max_output_tokens'];
  return promptTokens + (typeof maxTokens === 'number' && maxTokens > 0 ? maxTokens : 0);
}
