/**
 * The pool runs real worker threads (from source, through tsx) and must return exactly what
 * in-process tokenization returns.
 */
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockKeyRoot, computeBlockKeys } from '../../src/index-store/block-keys.ts';
import { ChatTemplateError, TokenizationInputError } from '../../src/tokenization/errors.ts';
import { builtinModelDirectory, loadModelTokenizer } from '../../src/tokenization/model-registry.ts';
import { tokenizeChat, tokenizeCompletion } from '../../src/tokenization/prompt-tokenizer.ts';
import type { ChatMessage } from '../../src/tokenization/types.ts';
import { TokenizationPool } from '../../src/workers/tokenization-pool.ts';

const MODELS = ['qwen3', 'llama3_1'] as const;
const system = { role: 'system', content: 'You are a helpful assistant that answers briefly. '.repeat(20) };
const conversation: ChatMessage[] = [
  system,
  { role: 'user', content: 'What is the capital of France?' },
  { role: 'assistant', content: 'Paris.' },
  {
    role: 'user',
    content: [
      { type: 'text', text: 'And of' },
      { type: 'text', text: 'Spain?' },
    ],
  },
];

let pool: TokenizationPool;

beforeAll(() => {
  pool = new TokenizationPool({ threads: 1 });
});

afterAll(async () => {
  await pool.close();
});

describe('TokenizationPool', () => {
  it('validates its thread count', () => {
    expect(pool.threads).toBe(1);
    expect(() => new TokenizationPool({ threads: 0 })).toThrow(RangeError);
  });

  it('survives a preload of a model that does not exist', async () => {
    const preloading = new TokenizationPool({ threads: 1, preloadModels: ['synthetic', 'no-such-model'] });
    try {
      const result = await preloading.run({ kind: 'completion', model: 'synthetic', prompt: 'a b' });
      expect(result.tokenIds[0]).toHaveLength(2);
      await expect(
        preloading.run({ kind: 'completion', model: 'no-such-model', prompt: 'a' }),
      ).rejects.toThrow(/unknown model/);
    } finally {
      await preloading.close();
    }
  });

  for (const name of MODELS) {
    it(`${name}: chat and completions ids equal in-process tokenization, in transferred typed arrays`, async () => {
      const model = await loadModelTokenizer(name, { textGenerator: false });
      const options = { chatTemplateKwargs: { enable_thinking: false } };
      const [chat, completion, expectedChat, expectedCompletion] = await Promise.all([
        pool.run({ kind: 'chat', model: name, messages: conversation, options, returnText: true }),
        pool.run({ kind: 'completion', model: name, prompt: ['Once upon a time', 'In a galaxy'] }),
        tokenizeChat(model, conversation, options),
        tokenizeCompletion(model, ['Once upon a time', 'In a galaxy']),
      ]);
      expect(chat.tokenIds).toHaveLength(1);
      expect(chat.tokenIds[0]).toBeInstanceOf(Uint32Array);
      expect([...chat.tokenIds[0]!]).toEqual(expectedChat.tokenIds);
      expect(chat.text).toBe(expectedChat.text);
      expect(completion.tokenIds.map((ids) => [...ids])).toEqual(expectedCompletion);
      expect(completion.text).toBeUndefined();

      const ids = await pool.run({ kind: 'completion', model: name, prompt: [[5, 6, 7]] });
      expect([...ids.tokenIds[0]!]).toEqual([5, 6, 7]);
    });
  }

  it('computes block keys in the same task, equal to the pure function', async () => {
    const blockKeys = { blockSize: 16, modelName: 'Qwen/Qwen3-0.6B', loraName: 'adapter', salt: 's3cret' };
    const result = await pool.run({ kind: 'chat', model: 'qwen3', messages: conversation, blockKeys });
    const ids = result.tokenIds[0]!;
    expect(result.blockKeys).toHaveLength(1);
    expect(result.blockKeys![0]).toBeInstanceOf(BigUint64Array);
    expect(result.blockKeys![0]).toEqual(
      computeBlockKeys(ids, 16, blockKeyRoot('Qwen/Qwen3-0.6B', 'adapter', 's3cret')),
    );
    expect(result.blockKeys![0]).toHaveLength(Math.floor(ids.length / 16));

    const both = await pool.run({
      kind: 'completion',
      model: 'llama3_1',
      prompt: ['a '.repeat(40), 'b'],
      blockKeys: { blockSize: 8 },
    });
    const root = blockKeyRoot('llama3_1');
    expect(both.blockKeys!.map((keys) => [...keys])).toEqual(
      both.tokenIds.map((t) => [...computeBlockKeys(t, 8, root)]),
    );
  });

  it('serves repeated prefixes from each worker’s segment cache', async () => {
    const before = pool.cacheStats();
    for (let i = 0; i < 6; i++) {
      await pool.run({
        kind: 'chat',
        model: 'llama3_1',
        messages: [system, { role: 'user', content: `question ${i}` }],
      });
    }
    const after = pool.cacheStats();
    expect(after.tasks - before.tasks).toBe(6);
    expect(after.hitTokens - before.hitTokens).toBeGreaterThan(after.missTokens - before.missTokens);
  });

  it('rejects bad requests with the right error class and keeps working', async () => {
    await expect(pool.run({ kind: 'chat', model: 'no-such-model', messages: conversation })).rejects.toThrow(
      /unknown model/,
    );
    await expect(
      pool.run({
        kind: 'chat',
        model: 'qwen3',
        messages: [{ content: 'no role' } as unknown as ChatMessage],
      }),
    ).rejects.toThrow(TokenizationInputError);
    await expect(
      pool.run({
        kind: 'chat',
        model: 'qwen3',
        messages: conversation,
        options: { continueFinalMessage: true },
      }),
    ).rejects.toThrow(TokenizationInputError);
    await expect(pool.run({ kind: 'completion', model: 'qwen3', prompt: [999_999_999] })).rejects.toThrow(
      TokenizationInputError,
    );
    await expect(
      pool.run({
        kind: 'chat',
        model: 'llama3_1',
        messages: [{ role: 'user', content: 'x' }],
        options: { chatTemplateKwargs: { tokenize: 1 } },
      }),
    ).rejects.toThrow(TokenizationInputError);
    await expect(pool.run({ kind: 'bogus' } as never)).rejects.toThrow(TokenizationInputError);

    const ok = await pool.run({ kind: 'completion', model: 'qwen3', prompt: 'still alive' });
    expect([...ok.tokenIds[0]!]).toEqual([43366, 13675]);
  });

  it('loads models from a directory and reports template failures as ChatTemplateError', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'kvedge-model-'));
    try {
      symlinkSync(
        join(builtinModelDirectory('llama3_1'), 'tokenizer.json'),
        join(directory, 'tokenizer.json'),
      );
      const chat_template =
        "{% if messages[0].role != 'system' %}{{ raise_exception('system message required') }}{% endif %}ok";
      writeFileSync(join(directory, 'tokenizer_config.json'), JSON.stringify({ chat_template }));
      const user = [{ role: 'user', content: 'x' }];
      await expect(pool.run({ kind: 'chat', model: directory, messages: user })).rejects.toThrow(
        new ChatTemplateError('system message required'),
      );
      const ok = await pool.run({ kind: 'chat', model: directory, messages: [system, ...user] });
      expect([...ok.tokenIds[0]!]).toEqual([564]);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
