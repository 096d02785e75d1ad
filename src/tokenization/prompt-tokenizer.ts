/**
 * The entry point callers use: chat messages or a completions prompt -> token ids, as vLLM's
 * OpenAI server computes them.
 *
 * - Chat: render the template, then tokenize without special tokens (the template writes BOS
 *   itself; vLLM's chat `add_special_tokens` defaults to false).
 * - Completions: each prompt string is tokenized with the tokenizer's special tokens (vLLM's
 *   completions `add_special_tokens` defaults to true); token-id prompts pass through.
 */
import { TokenizationInputError } from './errors.ts';
import type { ChatMessage, ChatTemplateOptions, ModelTokenizer, TextTokenizer } from './types.ts';

export interface ChatTokenization {
  readonly tokenIds: number[];
  /** The rendered prompt text. */
  readonly text: string;
}

export interface EncodeOptions {
  /**
   * Tokenizer to encode with instead of `model.tokenizer`: the same tokenizer behind a cache
   * (a SegmentCachedTokenizer).
   */
  readonly tokenizer?: TextTokenizer;
  /** vLLM `add_special_tokens` (default: false for chat, the model's default for completions). */
  readonly addSpecialTokens?: boolean;
}

/** A completions prompt as the OpenAI API accepts it. */
export type CompletionPrompt =
  string | readonly string[] | readonly number[] | readonly (readonly number[])[];

/**
 * Renders and tokenizes a chat request.
 *
 * @throws TokenizationInputError / ChatTemplateError (see JinjaChatTemplate.render).
 */
export async function tokenizeChat(
  model: ModelTokenizer,
  messages: readonly ChatMessage[],
  options: ChatTemplateOptions & EncodeOptions = {},
): Promise<ChatTokenization> {
  const text = model.chatTemplate.render(messages, options);
  const tokenizer = options.tokenizer ?? model.tokenizer;
  const tokenIds = await tokenizer.encode(text, options.addSpecialTokens ?? false);
  return { tokenIds, text };
}

/**
 * Token ids of each prompt of a completions request: one list per prompt (a single string or a
 * single token list gives one list).
 *
 * @throws TokenizationInputError for an empty or malformed prompt, or token ids outside the
 * vocabulary.
 */
export async function tokenizeCompletion(
  model: ModelTokenizer,
  prompt: CompletionPrompt,
  options: EncodeOptions = {},
): Promise<number[][]> {
  const tokenizer = options.tokenizer ?? model.tokenizer;
  const addSpecialTokens = options.addSpecialTokens ?? model.addSpecialTokensForCompletions;
  if (typeof prompt === 'string') return [await tokenizer.encode(prompt, addSpecialTokens)];
  if (!Array.isArray(prompt) || prompt.length === 0) {
    throw new TokenizationInputError(
      'prompt must be a string, a list of strings or a non-empty list of token ids',
    );
  }
  if (prompt.every((p) => typeof p === 'string')) {
    const texts = prompt as readonly string[];
    return tokenizer.encodeBatch
      ? tokenizer.encodeBatch(texts, addSpecialTokens)
      : Promise.all(texts.map((text) => tokenizer.encode(text, addSpecialTokens)));
  }
  if (prompt.every((p) => typeof p === 'number'))
    return [checkedIds(prompt as readonly number[], tokenizer, 0)];
  if (prompt.every((p) => Array.isArray(p))) {
    return (prompt as readonly (readonly number[])[]).map((ids, i) => checkedIds(ids, tokenizer, i));
  }
  throw new TokenizationInputError('prompt mixes strings, token ids and token-id lists');
}

/** vLLM rejects empty token prompts and ids beyond the vocabulary. */
function checkedIds(ids: readonly number[], tokenizer: TextTokenizer, index: number): number[] {
  if (ids.length === 0) throw new TokenizationInputError(`prompt[${index}] is an empty token list`);
  for (const id of ids) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= tokenizer.vocabSize) {
      throw new TokenizationInputError(
        `prompt[${index}] has token id ${String(id)} outside [0, ${tokenizer.vocabSize})`,
      );
    }
  }
  return [...ids];
}
