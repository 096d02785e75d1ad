import { describe, expect, it } from 'vitest';
import { TokenizationInputError } from '../../src/tokenization/errors.ts';
import {
  createSyntheticModelTokenizer,
  SyntheticChatTemplate,
  SyntheticTokenizer,
} from '../../src/tokenization/synthetic-tokenizer.ts';

/** Reference FNV-1a-32 over UTF-8 bytes, written independently of the implementation. */
function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    h ^= byte;
    h = Number((BigInt(h) * 0x01000193n) & 0xffffffffn);
  }
  return h;
}

describe('SyntheticTokenizer', () => {
  const tokenizer = new SyntheticTokenizer({ vocabSize: 50_000 });
  const tokens = (text: string): number[] => tokenizer.encodeSync(text);
  const ids = (...pieces: string[]): number[] => pieces.map((p) => fnv1a32(p) % 50_000);

  it('is named synthetic and maps each word to FNV-1a-32 mod vocab size', () => {
    expect(tokenizer.name).toBe('synthetic');
    expect(tokens('hello')).toEqual(ids('hello'));
    expect(tokenizer.tokenToId(' naïve')).toBe(fnv1a32(' naïve') % 50_000);
  });

  it('splits words with their leading space, punctuation one character at a time, and whitespace runs', () => {
    expect(tokens('Hello, world!')).toEqual(ids('Hello', ',', ' world', '!'));
    expect(tokens('a  b')).toEqual(ids('a', ' ', ' b'));
    expect(tokens('a\n\nb ')).toEqual(ids('a', '\n\n', 'b', ' '));
    expect(tokens(' ...')).toEqual(ids(' .', '.', '.'));
    expect(tokens('日本語 テスト🎉')).toEqual(ids('日本語', ' テスト', '🎉'));
    expect(tokens('')).toEqual([]);
  });

  it('is deterministic and encodes asynchronously to the same ids', async () => {
    const text = 'The same text, twice.  With spaces\tand\ttabs.';
    expect(await tokenizer.encode(text)).toEqual(tokens(text));
    expect(await tokenizer.encodeBatch([text, text])).toEqual([tokens(text), tokens(text)]);
    expect(new SyntheticTokenizer({ vocabSize: 50_000 }).encodeSync(text)).toEqual(tokens(text));
  });

  it('decodes lexicon ids exactly and other ids approximately', () => {
    const lexiconId = tokens(' baba')[0]!;
    expect(tokenizer.decode([tokens('Baba')[0]!, lexiconId])).toBe('Baba baba');
    const unknown = tokens(' xylophone')[0]!;
    expect(tokenizer.decode([unknown])).toBe(`<${unknown}>`);
  });

  it('rejects a vocabulary size that cannot hold ids', () => {
    expect(() => new SyntheticTokenizer({ vocabSize: 1 })).toThrow(RangeError);
  });
});

describe('SyntheticChatTemplate', () => {
  const template = new SyntheticChatTemplate();

  it('renders role markers and the generation prompt', () => {
    expect(
      template.render([
        { role: 'system', content: 'S' },
        { role: 'user', content: [{ type: 'text', text: 'a' }, 'b'] },
      ]),
    ).toBe('<|system|>\nS\n<|user|>\na\nb\n<|assistant|>\n');
  });

  it('continues the final message and refuses both options at once', () => {
    const messages = [
      { role: 'user', content: 'q' },
      { role: 'assistant', content: 'partial' },
    ];
    expect(template.render(messages, { addGenerationPrompt: false, continueFinalMessage: true })).toBe(
      '<|user|>\nq\n<|assistant|>\npartial',
    );
    expect(() => template.render(messages, { continueFinalMessage: true })).toThrow(TokenizationInputError);
  });

  it('leads with tools as JSON when given', () => {
    const tools = [{ type: 'function', function: { name: 'f' } }];
    expect(template.render([{ role: 'user', content: 'q' }], { tools, addGenerationPrompt: false })).toBe(
      `<|tools|>\n${JSON.stringify(tools)}\n<|user|>\nq\n`,
    );
  });

  it('comes as a model without special tokens', () => {
    expect(createSyntheticModelTokenizer().addSpecialTokensForCompletions).toBe(false);
  });
});
