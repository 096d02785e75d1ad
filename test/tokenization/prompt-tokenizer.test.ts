import { beforeAll, describe, expect, it } from 'vitest';
import { TokenizationInputError } from '../../src/tokenization/errors.ts';
import { tokenizeChat, tokenizeCompletion } from '../../src/tokenization/prompt-tokenizer.ts';
import { SegmentCachedTokenizer } from '../../src/tokenization/segment-cached-tokenizer.ts';
import type { ModelTokenizer } from '../../src/tokenization/types.ts';
import { loadRealModel } from './real-tokenizers.ts';

let qwen: ModelTokenizer;
let llama: ModelTokenizer;

beforeAll(async () => {
  [qwen, llama] = await Promise.all([loadRealModel('qwen3'), loadRealModel('llama3_1')]);
});

describe('tokenizeChat', () => {
  it('tokenizes the rendered prompt without adding special tokens: Llama has exactly one BOS', async () => {
    const messages = [{ role: 'user', content: 'Hello world' }];
    const chat = await tokenizeChat(llama, messages);
    expect(chat.text.startsWith('<|begin_of_text|><|start_header_id|>user')).toBe(true);
    expect(chat.tokenIds.filter((id) => id === 128000)).toHaveLength(1);
    expect(chat.tokenIds).toEqual([
      128000, 128006, 882, 128007, 271, 9906, 1917, 128009, 128006, 78191, 128007, 271,
    ]);
    const qwenChat = await tokenizeChat(qwen, messages);
    expect(qwenChat.tokenIds).toEqual([151644, 872, 198, 9707, 1879, 151645, 198, 151644, 77091, 198]);
  });

  it('honours add_special_tokens and encodes through a given (cached) tokenizer', async () => {
    const messages = [{ role: 'user', content: 'Hello world' }];
    const plain = await tokenizeChat(llama, messages);
    expect((await tokenizeChat(llama, messages, { addSpecialTokens: true })).tokenIds).toEqual([
      128000,
      ...plain.tokenIds,
    ]);
    const cached = new SegmentCachedTokenizer(llama.tokenizer);
    expect((await tokenizeChat(llama, messages, { tokenizer: cached })).tokenIds).toEqual(plain.tokenIds);
    expect(cached.stats().encodes).toBe(1);
  });
});

describe('tokenizeCompletion', () => {
  it('adds the model’s special tokens to text prompts (BOS for Llama, none for Qwen3)', async () => {
    expect(await tokenizeCompletion(llama, 'Hello world')).toEqual([[128000, 9906, 1917]]);
    expect(await tokenizeCompletion(qwen, 'Hello world')).toEqual([[9707, 1879]]);
    expect(await tokenizeCompletion(llama, 'Hello world', { addSpecialTokens: false })).toEqual([
      [9906, 1917],
    ]);
  });

  it('returns one list per prompt and passes token ids through', async () => {
    expect(await tokenizeCompletion(llama, ['Hello', 'world'])).toEqual([
      [128000, 9906],
      [128000, 14957],
    ]);
    expect(await tokenizeCompletion(llama, [1, 2, 3])).toEqual([[1, 2, 3]]);
    expect(await tokenizeCompletion(llama, [[1, 2], [3]])).toEqual([[1, 2], [3]]);
  });

  it('rejects empty, mixed and out-of-vocabulary prompts', async () => {
    const bad: unknown[] = [[], [[]], ['a', 1], [1, [2]], [128256], [-1], [1.5]];
    for (const prompt of bad) {
      await expect(tokenizeCompletion(llama, prompt as number[])).rejects.toThrow(TokenizationInputError);
    }
  });
});
