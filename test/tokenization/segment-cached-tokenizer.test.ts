/**
 * The segment cache must return exactly what tokenizing the whole text returns. These tests check
 * the claim it rests on (no token spans an added token), then the cache itself with property
 * tests over prompts built from shared prefixes and adversarial suffixes, for Qwen3 and
 * Llama 3.1, on raw text and on rendered chats.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { HfTokenizer } from '../../src/tokenization/hf-tokenizer.ts';
import {
  SegmentCachedTokenizer,
  splitAfterBoundaries,
} from '../../src/tokenization/segment-cached-tokenizer.ts';
import type { ChatMessage, ModelTokenizer } from '../../src/tokenization/types.ts';
import { loadRealModel, REAL_MODELS } from './real-tokenizers.ts';

const models = new Map<string, ModelTokenizer>();

beforeAll(async () => {
  for (const name of REAL_MODELS) models.set(name, await loadRealModel(name));
});

function boundaryRegex(model: ModelTokenizer): RegExp {
  const tokens = [...model.tokenizer.segmentation!.boundaryTokens].sort((a, b) => b.length - a.length);
  return new RegExp(tokens.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
}

describe('claim: tokens never span an added token', () => {
  for (const name of REAL_MODELS) {
    it(`${name}: every boundary token splits tokenization, whatever surrounds it`, async () => {
      const { tokenizer } = models.get(name)!;
      const contexts: [string, string][] = [
        ['abc', 'def'],
        [' ', ' '],
        ['\n', '\n\n'],
        ['<', '>'],
        ['hello ', "'s"],
        ['12', '34'],
        ['日本', 'ü'],
        ['<|', '|>'],
      ];
      const cases = tokenizer.segmentation!.boundaryTokens.flatMap((token) =>
        contexts.map(([left, right]) => ({ token, left, right })),
      );
      const whole = await tokenizer.encodeBatch!(cases.map((c) => c.left + c.token + c.right));
      const head = await tokenizer.encodeBatch!(cases.map((c) => c.left + c.token));
      const tail = await tokenizer.encodeBatch!(cases.map((c) => c.right));
      cases.forEach((c, i) => {
        expect(whole[i]).toEqual([...head[i]!, ...tail[i]!]);
        expect(head[i]!.at(-1)).toBe(tokenizer.tokenToId(c.token));
      });
    });
  }

  it('negative control: a Metaspace "first" tokenizer breaks the claim, so caching is bypassed', async () => {
    const json = JSON.stringify({
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [
        {
          id: 2,
          content: '<sep>',
          single_word: false,
          lstrip: false,
          rstrip: false,
          normalized: false,
          special: true,
        },
      ],
      normalizer: null,
      pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true },
      post_processor: null,
      decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true },
      model: {
        type: 'WordLevel',
        vocab: { '▁hello': 0, hello: 1, '<sep>': 2, '[UNK]': 3, '▁world': 4, world: 5 },
        unk_token: '[UNK]',
      },
    });
    const tokenizer = await HfTokenizer.fromJson(json, 'metaspace-first');
    const whole = await tokenizer.encode('hello<sep>world');
    const naive = [...(await tokenizer.encode('hello<sep>')), ...(await tokenizer.encode('world'))];
    expect(whole).toEqual([0, 2, 5]);
    expect(naive).not.toEqual(whole);
    expect(tokenizer.segmentation).toBeUndefined();
    const cached = new SegmentCachedTokenizer(tokenizer);
    expect(cached.enabled).toBe(false);
    expect(await cached.encode('hello<sep>world')).toEqual(whole);
    expect(cached.stats().bypassed).toBe(1);
  });
});

/** Text pieces that stress pre-tokenization at segment edges. */
function pieceArbitrary(boundaryTokens: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 16 }),
    fc.string({ unit: 'binary', maxLength: 8 }),
    fc.constantFrom(...boundaryTokens.slice(0, 40)),
    fc.constantFrom(' ', '  ', '   ', '\n', '\n\n', '\r\n', '\t', ' \n ', '\u00a0', '\u3000', ''),
    fc.constantFrom(
      '<|',
      '|>',
      '<|im_',
      'im_end|>',
      '<think',
      '</',
      '<|eot_id',
      'eot_id|>',
      '<|start_header',
    ),
    fc.constantFrom("'s", "'LL", '1234567', '3.14', 'ÀÉÎ', 'e\u0301', '👨‍👩‍👧', 'ﬁ', 'Ⅻ', 'word'),
  );
}

describe('SegmentCachedTokenizer equals full tokenization', () => {
  for (const name of REAL_MODELS) {
    for (const keying of ['content', 'chain'] as const) {
      it(`${name}, ${keying} keys: raw text from shared prefixes + random suffixes`, async () => {
        const model = models.get(name)!;
        const { tokenizer } = model;
        const boundaryTokens = tokenizer.segmentation!.boundaryTokens;
        const systemPrompt = model.chatTemplate.render(
          [{ role: 'system', content: 'You are a careful assistant. '.repeat(40) }],
          { addGenerationPrompt: false },
        );
        const prefixes = [
          '',
          systemPrompt,
          `${systemPrompt}${boundaryTokens[0]}  tail `,
          'plain text prefix. '.repeat(20),
        ];
        // A small budget so eviction happens during the run.
        const cached = new SegmentCachedTokenizer(tokenizer, { keying, maxTokens: 3000 });
        await fc.assert(
          fc.asyncProperty(
            fc.constantFrom(...prefixes),
            fc.array(pieceArbitrary(boundaryTokens), { maxLength: 24 }),
            fc.boolean(),
            async (prefix, pieces, addSpecialTokens) => {
              const text = prefix + pieces.join('');
              expect(await cached.encode(text, addSpecialTokens)).toEqual(
                await tokenizer.encode(text, addSpecialTokens),
              );
            },
          ),
          { numRuns: 250 },
        );
        const stats = cached.stats();
        expect(stats.segmentHits).toBeGreaterThan(0);
        expect(stats.evictions).toBeGreaterThan(0);
        expect(stats.cachedTokens).toBeLessThanOrEqual(3000);
      });
    }

    it(`${name}: rendered multi-turn chats sharing history`, async () => {
      const model = models.get(name)!;
      const { tokenizer } = model;
      const cached = new SegmentCachedTokenizer(tokenizer);
      const piece = pieceArbitrary(tokenizer.segmentation!.boundaryTokens);
      const content = fc.array(piece, { maxLength: 8 }).map((parts) => parts.join(''));
      const message = fc.record({ role: fc.constantFrom('user', 'assistant', 'system'), content });
      const history: ChatMessage[] = [
        { role: 'system', content: 'Shared system prompt. '.repeat(30) },
        { role: 'user', content: 'First question?' },
        { role: 'assistant', content: 'First answer.' },
      ];
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 3 }),
          fc.array(message, { minLength: 1, maxLength: 4 }),
          async (keep, tail) => {
            const messages = [...history.slice(0, keep), ...tail];
            const text = model.chatTemplate.render(messages);
            const ids = await cached.encode(text);
            expect(ids).toEqual(await tokenizer.encode(text));
          },
        ),
        { numRuns: 150 },
      );
      expect(cached.stats().hitTokens).toBeGreaterThan(cached.stats().missTokens);
    });
  }
});

describe('SegmentCachedTokenizer statistics and keying', () => {
  it('chain keys serve an extended conversation from cache up to the first changed segment', async () => {
    const model = models.get('qwen3')!;
    const cached = new SegmentCachedTokenizer(model.tokenizer, { keying: 'chain' });
    const turn1: ChatMessage[] = [
      { role: 'system', content: 'System prompt. '.repeat(100) },
      { role: 'user', content: 'Question one?' },
    ];
    const text1 = model.chatTemplate.render(turn1);
    const ids1 = await cached.encode(text1);
    expect(cached.stats()).toMatchObject({ hitTokens: 0, missTokens: ids1.length });

    const text2 = model.chatTemplate.render([
      ...turn1,
      { role: 'assistant', content: 'Answer.' },
      { role: 'user', content: 'Two?' },
    ]);
    const before = cached.stats();
    const ids2 = await cached.encode(text2);
    const after = cached.stats();
    // Turn 1's last segment ("assistant\n", after the final <|im_start|>) is the only one that changed.
    const segments1 = splitAfterBoundaries(text1, boundaryRegex(model));
    const lastSegmentTokens = (await model.tokenizer.encode(segments1.at(-1)!)).length;
    expect(after.hitTokens - before.hitTokens).toBe(ids1.length - lastSegmentTokens);
    expect(after.missTokens - before.missTokens).toBe(ids2.length - (ids1.length - lastSegmentTokens));

    // Content keys also reuse the small repeated segments ("\n<|im_start|>", "assistant\n").
    const byContent = new SegmentCachedTokenizer(model.tokenizer, { keying: 'content' });
    await byContent.encode(text1);
    await byContent.encode(text2);
    expect(byContent.stats().hitTokens).toBeGreaterThan(after.hitTokens);
  });

  it('content keys share a segment wherever it occurs; chain keys only under the same prefix', async () => {
    const { tokenizer } = models.get('llama3_1')!;
    const shared = 'A shared document that appears after different prefixes.<|eot_id|>';
    const texts = [`first prefix<|eot_id|>${shared}`, `second prefix<|eot_id|>${shared}`];
    const sharedTokens = (await tokenizer.encode(shared)).length;
    const hits: Record<string, number> = {};
    for (const keying of ['content', 'chain'] as const) {
      const cached = new SegmentCachedTokenizer(tokenizer, { keying });
      for (const text of texts) expect(await cached.encode(text)).toEqual(await tokenizer.encode(text));
      hits[keying] = cached.stats().hitTokens;
    }
    expect(hits).toEqual({ content: sharedTokens, chain: 0 });
  });

  it('tokenizes a segment repeated within one batch once, and clear() empties the cache', async () => {
    const { tokenizer } = models.get('qwen3')!;
    let encoded = 0;
    const counting = {
      ...tokenizer,
      segmentation: tokenizer.segmentation,
      decode: tokenizer.decode.bind(tokenizer),
      tokenToId: tokenizer.tokenToId.bind(tokenizer),
      encode: tokenizer.encode.bind(tokenizer),
      encodeBatch: async (texts: readonly string[], add?: boolean) => {
        encoded += texts.length;
        return tokenizer.encodeBatch!(texts, add);
      },
    };
    const cached = new SegmentCachedTokenizer(counting);
    const text = '<|im_start|>same<|im_end|>';
    const out = await cached.encodeBatch([text, text, `x${text}`]);
    expect(out[0]).toEqual(await tokenizer.encode(text));
    expect(encoded).toBe(3); // "<|im_start|>", "same<|im_end|>", "x<|im_start|>": nothing twice
    expect(cached.stats().entries).toBe(3);
    cached.clear();
    expect(cached.stats().entries).toBe(0);
  });
});
