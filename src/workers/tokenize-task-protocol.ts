/**
 * Messages between the TokenizationPool (main thread) and its tokenize-task workers. Everything
 * here crosses a worker boundary by structured clone, so it is plain data; token ids and block
 * keys come back as transferred typed arrays instead of copied arrays.
 */
import type { ChatMessage, ChatTemplateOptions } from '../tokenization/types.ts';
import type { CompletionPrompt } from '../tokenization/prompt-tokenizer.ts';

/** Chained block keys to compute over the prompt's full token blocks (see block-keys.ts). */
export interface BlockKeyRequest {
  readonly blockSize: number;
  /** Model name hashed into the root key (default: the task's `model`); use the served model name. */
  readonly modelName?: string;
  /** vLLM `cache_salt`. */
  readonly salt?: string | null;
  readonly loraName?: string | null;
}

interface TaskBase {
  /** A built-in model name (`qwen3`, `llama3_1`), `synthetic`, or a HF model directory. */
  readonly model: string;
  readonly blockKeys?: BlockKeyRequest;
}

export interface ChatTask extends TaskBase {
  readonly kind: 'chat';
  readonly messages: readonly ChatMessage[];
  readonly options?: ChatTemplateOptions & { readonly addSpecialTokens?: boolean };
  /** Also return the rendered prompt text (default false: it can be large). */
  readonly returnText?: boolean;
}

export interface CompletionTask extends TaskBase {
  readonly kind: 'completion';
  readonly prompt: CompletionPrompt;
  readonly addSpecialTokens?: boolean;
}

export type TokenizeTask = ChatTask | CompletionTask;

/** Segment-cache activity of one task in its worker. */
export interface TaskCacheActivity {
  readonly hitTokens: number;
  readonly missTokens: number;
}

export interface TokenizeResult {
  /** One array per prompt; a chat request has exactly one. */
  readonly tokenIds: Uint32Array[];
  /** Per prompt, when `blockKeys` was requested. */
  readonly blockKeys?: BigUint64Array[];
  /** The rendered chat prompt, when `returnText` was set. */
  readonly text?: string;
  readonly cache: TaskCacheActivity;
}

/** Error kinds the pool rethrows as the matching class on the caller's side. */
export type TaskErrorKind = 'TokenizationInputError' | 'ChatTemplateError' | 'Error';

/** What a worker sends back: a result, or an error described as data (it survives cloning). */
export type TaskReply =
  | { readonly ok: true; readonly result: TokenizeResult }
  | { readonly ok: false; readonly error: { readonly kind: TaskErrorKind; readonly message: string } };

/** Worker-wide settings, fixed when the pool starts. */
export interface TokenizeWorkerData {
  /** Per-worker segment cache budget in tokens (0 disables caching). */
  readonly cacheMaxTokens: number;
  /** Models each worker starts loading as soon as it starts. */
  readonly preloadModels: readonly string[];
}
