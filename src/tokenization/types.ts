/**
 * Tokenizer and chat-template contracts shared by the simulator (which tokenizes as vLLM would)
 * and the router's tokenization workers.
 */

export interface TextTokenizer {
  /** Stable name used in logs, metrics and `/debug/route` (e.g. `hf:qwen3`, `synthetic`). */
  readonly name: string;
  /** Token ids for `text`. `addSpecialTokens` adds BOS etc. as the HF tokenizer would (default false). */
  encode(text: string, addSpecialTokens?: boolean): Promise<number[]>;
  decode(ids: readonly number[]): string;
  /** Id of a token string, if it is in the vocabulary. */
  tokenToId(token: string): number | undefined;
  readonly vocabSize: number;
}

/** An OpenAI chat message as it reaches the chat template. */
export interface ChatMessage {
  readonly role: string;
  readonly content?: string | readonly ChatContentPart[] | null;
  readonly name?: string;
  readonly tool_calls?: readonly unknown[];
  readonly tool_call_id?: string;
  readonly [key: string]: unknown;
}

export interface ChatContentPart {
  readonly type: string;
  readonly text?: string;
  readonly [key: string]: unknown;
}

export interface ChatTemplateOptions {
  readonly addGenerationPrompt?: boolean;
  readonly continueFinalMessage?: boolean;
  readonly tools?: readonly unknown[] | null;
  readonly documents?: readonly unknown[] | null;
  readonly chatTemplateKwargs?: Readonly<Record<string, unknown>>;
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
