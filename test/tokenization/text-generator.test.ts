/**
 * Output tokens must survive the trip a real conversation takes: decoded to text, sent back as
 * the assistant message of the next turn, rendered by the chat template and re-tokenized. Then
 * the next prompt starts with the previous prompt plus the answer, and hits its cache.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModelTokenizer } from '../../src/tokenization/model-registry.ts';
import { tokenizeChat } from '../../src/tokenization/prompt-tokenizer.ts';
import { createTextGenerator, prepareTextGenerator } from '../../src/tokenization/text-generator.ts';
import { SyntheticTokenizer } from '../../src/tokenization/synthetic-tokenizer.ts';
import type { ChatMessage, ModelTokenizer } from '../../src/tokenization/types.ts';
import { FIXED_NOW } from './real-tokenizers.ts';

const MODELS = ['qwen3', 'llama3_1', 'synthetic'] as const;
const models = new Map<string, ModelTokenizer>();

beforeAll(async () => {
  for (const name of MODELS) models.set(name, await loadModelTokenizer(name, { clock: () => FIXED_NOW }));
});

describe('text generator', () => {
  it('is deterministic per seed, and a longer answer extends a shorter one', () => {
    for (const name of MODELS) {
      const generator = createTextGenerator(models.get(name)!.tokenizer);
      expect(generator.generate(42, 50)).toEqual(generator.generate(42, 50));
      expect(generator.generate(42, 80).slice(0, 50)).toEqual(generator.generate(42, 50));
      expect(generator.generate(43, 50)).not.toEqual(generator.generate(42, 50));
      expect(generator.generate(1, 0)).toEqual([]);
      expect(generator.leadingIds.length).toBeGreaterThan(0);
      expect(generator.continuationIds.length).toBeGreaterThan(100);
    }
  });

  for (const name of MODELS) {
    it(`${name}: decoded answers re-tokenize to the same ids`, async () => {
      const { tokenizer } = models.get(name)!;
      const generator = createTextGenerator(tokenizer);
      const answers = Array.from({ length: 300 }, (_, seed) =>
        generator.generate(seed * 7919, 1 + (seed % 97)),
      );
      const texts = answers.map((ids) => tokenizer.decode(ids));
      const reencoded = await tokenizer.encodeBatch!(texts);
      reencoded.forEach((ids, i) => expect(ids).toEqual(answers[i]));
    });

    it(`${name}: the next turn's prompt starts with this turn's prompt plus the answer`, async () => {
      const model = models.get(name)!;
      const generator = createTextGenerator(model.tokenizer);
      let conversation: ChatMessage[] = [
        { role: 'system', content: 'You are a concise assistant.' },
        { role: 'user', content: 'Tell me something.' },
      ];
      for (let turn = 0; turn < 6; turn++) {
        const prompt = await tokenizeChat(model, conversation);
        const answer = generator.generate(turn * 31 + 5, 20 + turn * 13);
        conversation = [
          ...conversation,
          { role: 'assistant', content: model.tokenizer.decode(answer) },
          { role: 'user', content: `And then ${turn}?` },
        ];
        const next = await tokenizeChat(model, conversation);
        expect(next.tokenIds.slice(0, prompt.tokenIds.length + answer.length)).toEqual([
          ...prompt.tokenIds,
          ...answer,
        ]);
      }
    });
  }

  it('must be prepared before synchronous use, and preparing is memoized per tokenizer', async () => {
    const tokenizer = new SyntheticTokenizer({ vocabSize: 65_536 });
    expect(() => createTextGenerator(tokenizer)).toThrow(/not prepared/);
    const prepared = await prepareTextGenerator(tokenizer);
    expect(await prepareTextGenerator(tokenizer)).toBe(prepared);
    expect(createTextGenerator(tokenizer)).toBe(prepared);
  });
});
