import { Tokenizer } from 'tokenizers';
import { beforeAll, describe, expect, it } from 'vitest';
import { HfTokenizer } from '../../src/tokenization/hf-tokenizer.ts';
import { builtinModelDirectory } from '../../src/tokenization/model-registry.ts';
import { REAL_MODELS } from './real-tokenizers.ts';

const loaded = new Map<string, { ours: HfTokenizer; native: Tokenizer }>();

beforeAll(async () => {
  for (const name of REAL_MODELS) {
    const directory = builtinModelDirectory(name);
    loaded.set(name, {
      ours: await HfTokenizer.fromDirectory(directory, { name }),
      native: Tokenizer.fromFile(`${directory}/tokenizer.json`),
    });
  }
});

/** Deterministic pseudo-random ids mixing the base vocabulary and added tokens. */
function randomIdLists(vocabSize: number, count: number, seed: number): number[][] {
  let state = seed;
  const next = (n: number): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state % n;
  };
  return Array.from({ length: count }, () =>
    Array.from({ length: 1 + next(12) }, () => (next(5) === 0 ? vocabSize - 1 - next(300) : next(vocabSize))),
  );
}

describe('HfTokenizer', () => {
  it('produces the known ids of both models, BOS only when asked', async () => {
    const qwen = loaded.get('qwen3')!.ours;
    const llama = loaded.get('llama3_1')!.ours;
    expect(qwen.name).toBe('hf:qwen3');
    expect(await qwen.encode('Hello world')).toEqual([9707, 1879]);
    expect(await qwen.encode('Hello world', true)).toEqual([9707, 1879]);
    expect(await llama.encode('Hello world')).toEqual([9906, 1917]);
    expect(await llama.encode('Hello world', true)).toEqual([128000, 9906, 1917]);
    expect(await qwen.encode('<|im_start|>user\n')).toEqual([151644, 872, 198]);
    expect(qwen.tokenToId('<|im_end|>')).toBe(151645);
    expect(qwen.tokenToId('definitely not a token')).toBeUndefined();
    expect(qwen.vocabSize).toBe(151669);
    expect(llama.vocabSize).toBe(128256);
  });

  it('encodeBatch equals encode on each text', async () => {
    const texts = ['', 'a', ' spaced  out ', '日本語', '<|eot_id|>x<|begin_of_text|>'];
    for (const { ours } of loaded.values()) {
      for (const add of [false, true]) {
        const batch = await ours.encodeBatch(texts, add);
        expect(batch).toEqual(await Promise.all(texts.map((t) => ours.encode(t, add))));
      }
    }
  });

  it('decodes synchronously exactly as the native tokenizer does, with and without special tokens', async () => {
    for (const { ours, native } of loaded.values()) {
      for (const ids of randomIdLists(ours.vocabSize, 400, 7)) {
        for (const skip of [false, true]) {
          expect(ours.decode(ids, skip)).toBe(await native.decode(ids, skip));
        }
      }
      // A character split over byte tokens decodes whole, and to U+FFFD token by token.
      const ids = await ours.encode('𓀀 naïve 日本');
      expect(ours.decode(ids)).toBe('𓀀 naïve 日本');
      expect(ours.decode(ids.slice(0, 1))).toBe('\ufffd');
    }
  });

  it('describes segmentation: boundary tokens and the special-token wrap', () => {
    const qwen = loaded.get('qwen3')!.ours.segmentation!;
    expect(qwen.boundaryTokens).toContain('<|im_start|>');
    expect(qwen.boundaryTokens).toContain('<think>');
    expect(qwen.specialPrefix).toEqual([]);
    expect(qwen.specialSuffix).toEqual([]);
    const llama = loaded.get('llama3_1')!.ours.segmentation!;
    expect(llama.boundaryTokens).toHaveLength(256);
    expect(llama.specialPrefix).toEqual([128000]);
    expect(llama.specialSuffix).toEqual([]);
  });
});
