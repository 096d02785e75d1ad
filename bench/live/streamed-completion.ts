/**
 * One streaming `/v1/completions` call with a token-id prompt (so the server sees exact tokens),
 * timed on the client: when each content chunk arrived, and the final usage (cached tokens).
 */
import { performance } from 'node:perf_hooks';
import { type Dispatcher, request } from 'undici';
import { SseParser } from './sse-parser.ts';

export interface CompletionCall {
  readonly baseUrl: string;
  readonly model: string;
  readonly promptTokenIds: readonly number[];
  readonly maxTokens: number;
  readonly dispatcher: Dispatcher;
  readonly requestId: string;
}

export interface CompletionOutcome {
  /** performance.now() at send, first content chunk, and end (ms). */
  readonly sentMs: number;
  readonly chunkMs: readonly number[];
  readonly endMs: number;
  readonly status: number;
  readonly promptTokens: number | null;
  readonly cachedTokens: number | null;
  readonly completionTokens: number | null;
  /** Pod that served it, from the sim's `x-kvedge-sim-pod` header when present. */
  readonly servedBy: string | null;
  readonly error: string | null;
}

interface StreamChunk {
  choices?: { text?: string | null; finish_reason?: string | null }[];
  usage?: {
    prompt_tokens?: number;
    completion_tokens?: number;
    prompt_tokens_details?: { cached_tokens?: number } | null;
  } | null;
  error?: { message?: string };
}

export async function streamCompletion(call: CompletionCall): Promise<CompletionOutcome> {
  const sentMs = performance.now();
  const chunkMs: number[] = [];
  let usage: StreamChunk['usage'] = null;
  let status = 0;
  let servedBy: string | null = null;
  let error: string | null = null;
  try {
    const response = await request(new URL('/v1/completions', call.baseUrl), {
      method: 'POST',
      dispatcher: call.dispatcher,
      headers: { 'content-type': 'application/json', 'x-request-id': call.requestId },
      body: JSON.stringify({
        model: call.model,
        prompt: call.promptTokenIds,
        max_tokens: call.maxTokens,
        // inference-perf's `ignore_eos: true`: the output length is exact.
        ignore_eos: true,
        temperature: 0,
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    status = response.statusCode;
    const pod = response.headers['x-kvedge-sim-pod'];
    servedBy = typeof pod === 'string' ? pod : null;
    if (status !== 200) {
      error = `http-${status}`;
      await response.body.text();
    } else {
      const parser = new SseParser();
      for await (const bytes of response.body) {
        const now = performance.now();
        for (const payload of parser.push(bytes as Uint8Array)) {
          if (payload === '[DONE]') continue;
          const chunk = JSON.parse(payload) as StreamChunk;
          if (chunk.error) error = `stream-error: ${chunk.error.message ?? 'unknown'}`;
          // A token chunk: some text, or an empty piece mid-stream (a token that decodes to nothing).
          // The closing chunk (empty text with a finish reason) is not a token.
          if (chunk.choices?.some((c) => (c.text ?? '') !== '' || (c.text === '' && !c.finish_reason))) {
            chunkMs.push(now);
          }
          if (chunk.usage) usage = chunk.usage;
        }
      }
    }
  } catch (err) {
    error = `transport: ${(err as Error).message}`;
  }
  return {
    sentMs,
    chunkMs,
    endMs: performance.now(),
    status,
    promptTokens: usage?.prompt_tokens ?? null,
    cachedTokens: usage?.prompt_tokens_details?.cached_tokens ?? null,
    completionTokens: usage?.completion_tokens ?? null,
    servedBy,
    error,
  };
}
