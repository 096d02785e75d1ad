/**
 * The SentencePiece-family decoders (Llama 2 / Mistral style) against the native tokenizer, on a
 * small hand-built byte-fallback tokenizer; the ByteLevel decoder is covered with the real
 * tokenizers in hf-tokenizer.test.ts.
 */
import { Tokenizer } from 'tokenizers';
import { describe, expect, it } from 'vitest';
import { HfTokenizer } from '../../src/tokenization/hf-tokenizer.ts';

const pieces = ['<unk>', '<s>', '</s>', '▁', '▁▁', 'a', 'b', '▁a', '▁ab', 'é', '日', '▁the', 'the▁'];
const byteTokens = Array.from(
  { length: 256 },
  (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`,
);

function sentencePieceJson(decoder: unknown): string {
  const vocab: Record<string, number> = {};
  [...pieces, ...byteTokens].forEach((piece, id) => (vocab[piece] = id));
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      {
        id: 0,
        content: '<unk>',
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      },
      {
        id: 1,
        content: '<s>',
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      },
      {
        id: 2,
        content: '</s>',
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      },
    ],
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  });
}

const DECODERS: Record<string, unknown> = {
  'llama2 sequence': {
    type: 'Sequence',
    decoders: [
      { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
      { type: 'ByteFallback' },
      { type: 'Fuse' },
      { type: 'Strip', content: ' ', start: 1, stop: 0 },
    ],
  },
  'metaspace always': { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
  'metaspace never, then strip both ends': {
    type: 'Sequence',
    decoders: [
      { type: 'Metaspace', replacement: '▁', prepend_scheme: 'never', split: true },
      { type: 'Fuse' },
      { type: 'Strip', content: ' ', start: 2, stop: 1 },
    ],
  },
  'regex replace': { type: 'Replace', pattern: { Regex: '▁+' }, content: '_' },
};

function* idLists(count: number): Generator<number[]> {
  let state = 99;
  const next = (n: number): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % n;
  };
  const utf8Bytes = [...new TextEncoder().encode('é日🎉')].map((b) => pieces.length + b);
  for (let i = 0; i < count; i++) {
    yield Array.from({ length: 1 + next(10) }, () => {
      const r = next(4);
      if (r === 0) return utf8Bytes[next(utf8Bytes.length)]!;
      if (r === 1) return pieces.length + next(256);
      return next(pieces.length);
    });
  }
}

describe('token decoder (SentencePiece family) matches the native decoder', () => {
  for (const [label, decoder] of Object.entries(DECODERS)) {
    it(label, async () => {
      const json = sentencePieceJson(decoder);
      const ours = await HfTokenizer.fromJson(json, 'sp');
      const native = Tokenizer.fromString(json);
      for (const ids of idLists(500)) {
        for (const skip of [false, true]) expect(ours.decode(ids, skip)).toBe(await native.decode(ids, skip));
      }
    });
  }

  it('throws on decode, not on load, for an unsupported decoder', async () => {
    const ours = await HfTokenizer.fromJson(
      sentencePieceJson({ type: 'CTC', pad_token: '<pad>', word_delimiter_token: '|', cleanup: true }),
      'ctc',
    );
    expect(await ours.encode('ab')).toBeInstanceOf(Array);
    expect(() => ours.decode([5])).toThrow(/CTC/);
  });
});
