/**
 * Tokenizer and chat-template contracts shared by the simulator (which tokenizes as vLLM would)
 * and the router's tokenization workers.
 */

export interface TextTokenizer {
  /** Stable name used in logs, metrics and `/debug/route` (e.g. `hf:qwen3`, `synthetic`). */
  readonly name: string;
  /** Token ids for `text`. `addSpecialTokens` adds BOS etc. as the HF tokenizer would (default false). */
  encode(text: string, addSpecialTokens?: boolean): Promise<number[]>;
  /** Same result as `encode` on each text, in one call (lets native tokenizers batch). */
  encodeBatch?(texts: readonly string[], addSpecialTokens?: boolean): Promise<number[][]>;
  /**
   * Text of `ids`, as HF `tokenizer.decode` gives it without `clean_up_tokenization_spaces`.
   * `skipSpecialTokens` drops special added tokens (default false).
   */
  decode(ids: readonly number[], skipSpecialTokens?: boolean): string;
  /** Id of a token string, if it is in the vocabulary. */
  tokenToId(token: string): number | undefined;
  readonly vocabSize: number;
  /**
   * Present when encoding can be split at added-token occurrences without changing the result;
   * absent when the tokenizer gives no such guarantee (segment caching is then bypassed).
   */
  readonly segmentation?: TokenizerSegmentation;
}

/** How a tokenizer's output decomposes, which is what makes segment caching exact. */
export interface TokenizerSegmentation {
  /**
   * Added-token strings that are matched in the raw text (leftmost-longest) before
   * normalization and pre-tokenization, so no token ever spans an occurrence.
   */
  readonly boundaryTokens: readonly string[];
  /** Ids the post-processor puts before one sequence when special tokens are added (e.g. BOS). */
  readonly specialPrefix: readonly number[];
  /** Ids the post-processor puts after one sequence when special tokens are added (e.g. EOS). */
  readonly specialSuffix: readonly number[];
}

/** An OpenAI chat message as it reaches the chat template. */
export interface ChatMessage {
  readonly role: string;
  readonly content?: string | readonly (ChatContentPart | string)[] | null;
  readonly name?: string;
  readonly tool_calls?: readonly unknown[] | null;
  readonly tool_call_id?: string | null;
  /** Reasoning of an earlier assistant turn (vLLM passes it to templates as `reasoning_content` too). */
  readonly reasoning?: string | null;
  readonly [key: string]: unknown;
}

export interface ChatContentPart {
  readonly type: string;
  readonly text?: string | null;
  readonly [key: string]: unknown;
}

/** Per-request chat options, named after the OpenAI/vLLM request fields they mirror. */
export interface ChatTemplateOptions {
  /** vLLM `add_generation_prompt` (default true). */
  readonly addGenerationPrompt?: boolean;
  /** vLLM `continue_final_message` (default false); incompatible with `addGenerationPrompt`. */
  readonly continueFinalMessage?: boolean;
  readonly tools?: readonly unknown[] | null;
  readonly documents?: readonly unknown[] | null;
  /** vLLM `chat_template_kwargs`; only names the template uses reach it (e.g. Qwen3 `enable_thinking`). */
  readonly chatTemplateKwargs?: Readonly<Record<string, unknown>>;
  /** vLLM `reasoning_effort`, passed to templates that read it. */
  readonly reasoningEffort?: string | null;
}

/** Renders chat messages to the prompt text the model sees. */
export interface ChatTemplateRenderer {
  render(messages: readonly ChatMessage[], options?: ChatTemplateOptions): string;
}

/** A tokenizer plus its chat template, as loaded for one model. */
export interface ModelTokenizer {
  readonly tokenizer: TextTokenizer;
  readonly chatTemplate: ChatTemplateRenderer;
  /** Whether completions prompts get BOS added (HF `add_bos_token` / post-processor behaviour). */
  readonly addSpecialTokensForCompletions: boolean;
}
