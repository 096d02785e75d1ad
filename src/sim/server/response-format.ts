/**
 * Response bodies and SSE chunks framed exactly as vLLM's OpenAI server frames them.
 */

export interface Usage {
  readonly prompt_tokens: number;
  readonly total_tokens: number;
  readonly completion_tokens: number;
  readonly prompt_tokens_details: { readonly cached_tokens: number };
}

export function usage(promptTokens: number, completionTokens: number, cachedTokens: number): Usage {
  return {
    prompt_tokens: promptTokens,
    total_tokens: promptTokens + completionTokens,
    completion_tokens: completionTokens,
    prompt_tokens_details: { cached_tokens: cachedTokens },
  };
}

/** One SSE event as vLLM writes it: `data: <json>\n\n`. */
export function sseData(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

export const SSE_DONE = 'data: [DONE]\n\n';

export type ApiKind = 'chat' | 'completion';

export interface ResponseIdentity {
  readonly id: string;
  readonly created: number;
  readonly model: string;
}

export function streamChunk(
  kind: ApiKind,
  ident: ResponseIdentity,
  text: string | null,
  finishReason: string | null,
  first: boolean,
): unknown {
  if (kind === 'chat') {
    const delta = first ? { role: 'assistant', content: text ?? '' } : text === null ? {} : { content: text };
    return {
      id: ident.id,
      object: 'chat.completion.chunk',
      created: ident.created,
      model: ident.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason, stop_reason: null }],
    };
  }
  return {
    id: ident.id,
    object: 'text_completion',
    created: ident.created,
    model: ident.model,
    choices: [{ index: 0, text: text ?? '', logprobs: null, finish_reason: finishReason, stop_reason: null }],
  };
}

/** The final usage-only chunk sent when `stream_options.include_usage` is set. */
export function usageChunk(kind: ApiKind, ident: ResponseIdentity, u: Usage): unknown {
  return {
    id: ident.id,
    object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
    created: ident.created,
    model: ident.model,
    choices: [],
    usage: u,
  };
}

export function fullResponse(
  kind: ApiKind,
  ident: ResponseIdentity,
  text: string,
  finishReason: string,
  u: Usage,
  kvTransferParams: unknown,
): unknown {
  if (kind === 'chat') {
    return {
      id: ident.id,
      object: 'chat.completion',
      created: ident.created,
      model: ident.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: text, reasoning_content: null, tool_calls: [] },
          logprobs: null,
          finish_reason: finishReason,
          stop_reason: null,
        },
      ],
      usage: u,
      prompt_logprobs: null,
      kv_transfer_params: kvTransferParams,
    };
  }
  return {
    id: ident.id,
    object: 'text_completion',
    created: ident.created,
    model: ident.model,
    choices: [
      {
        index: 0,
        text,
        logprobs: null,
        finish_reason: finishReason,
        stop_reason: null,
        prompt_logprobs: null,
      },
    ],
    usage: u,
    kv_transfer_params: kvTransferParams,
  };
}
