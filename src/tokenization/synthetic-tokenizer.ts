/**
 * `synthetic`: a cheap deterministic tokenizer for large benchmarks, where the cost of a real BPE
 * would dominate. It is not any model's tokenizer; token boundaries will not match a real model.
 *
 * Tokens: a word (letters, digits, marks) or a single punctuation character, either optionally
 * preceded by one space, or a whitespace run (a run before a word leaves its last space to the
 * word, as GPT-2 style pre-tokenizers do). Token id = FNV-1a-32 of the token's UTF-8 bytes mod
 * `vocabSize`. Encoding is lossless; decoding is approximate: ids map back to text only for the
 * built-in lexicon of pseudo-words (what the text generator emits), any other id decodes to
 * `<id>`, and hash collisions decode to whichever lexicon word claimed the id first.
 */
import { parseChatMessages } from './chat-messages.ts';
import { TokenizationInputError } from './errors.ts';
import type {
  ChatMessage,
  ChatTemplateOptions,
  ChatTemplateRenderer,
  ModelTokenizer,
  TextTokenizer,
} from './types.ts';

export interface SyntheticTokenizerOptions {
  /** Number of distinct ids (default 131072). */
  readonly vocabSize?: number;
}

export const SYNTHETIC_TOKENIZER_NAME = 'synthetic';
const DEFAULT_VOCAB_SIZE = 131_072;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

const CONSONANTS = 'bdfgklmnprstvz';
const VOWELS = 'aeiou';

/** Deterministic pseudo-words: every consonant-vowel syllable pair and triple prefix. */
function lexiconWords(): string[] {
  const syllables: string[] = [];
  for (const c of CONSONANTS) for (const v of VOWELS) syllables.push(c + v);
  const words: string[] = [];
  for (const a of syllables) for (const b of syllables) words.push(a + b);
  return words;
}

export class SyntheticTokenizer implements TextTokenizer {
  readonly name = SYNTHETIC_TOKENIZER_NAME;
  readonly vocabSize: number;
  readonly #lexicon = new Map<number, string>();

  constructor(options: SyntheticTokenizerOptions = {}) {
    const vocabSize = options.vocabSize ?? DEFAULT_VOCAB_SIZE;
    if (!Number.isInteger(vocabSize) || vocabSize < 2 || vocabSize > 2 ** 32) {
      throw new RangeError(`vocabSize must be an integer in [2, 2^32], got ${vocabSize}`);
    }
    this.vocabSize = vocabSize;
    for (const word of lexiconWords()) {
      for (const token of [` ${word}`, word[0]!.toUpperCase() + word.slice(1)]) {
        const id = this.#idOf(token, 0, token.length);
        if (!this.#lexicon.has(id)) this.#lexicon.set(id, token);
      }
    }
  }

  /** Synchronous encode; `encode` wraps it. There are no special tokens. */
  encodeSync(text: string): number[] {
    const ids: number[] = [];
    const n = text.length;
    let i = 0;
    while (i < n) {
      const start = i;
      if (isSpaceAt(text, i)) {
        let j = i;
        while (j < n && isSpaceAt(text, j)) j += charLength(text, j);
        const lastIsSpace = text.charCodeAt(j - 1) === 0x20;
        if (j === n || !lastIsSpace) {
          ids.push(this.#idOf(text, i, j));
          i = j;
          continue;
        }
        // A run ending in ' ' before a word or punctuation: the ' ' belongs to what follows.
        if (j - 1 > i) ids.push(this.#idOf(text, i, j - 1));
        i = j - 1;
      }
      const tokenStart = text.charCodeAt(i) === 0x20 ? i : start;
      if (text.charCodeAt(i) === 0x20) i += 1;
      if (isWordAt(text, i)) {
        while (i < n && isWordAt(text, i)) i += charLength(text, i);
      } else {
        i += charLength(text, i);
      }
      ids.push(this.#idOf(text, tokenStart, i));
    }
    return ids;
  }

  async encode(text: string, _addSpecialTokens = false): Promise<number[]> {
    return this.encodeSync(text);
  }

  async encodeBatch(texts: readonly string[], _addSpecialTokens = false): Promise<number[][]> {
    return texts.map((text) => this.encodeSync(text));
  }

  /** Approximate: lexicon ids decode to their word, other ids to `<id>`. */
  decode(ids: readonly number[], _skipSpecialTokens = false): string {
    let out = '';
    for (const id of ids) out += this.#lexicon.get(id) ?? `<${id}>`;
    return out;
  }

  /** Every string has an id (its hash); this never returns undefined. */
  tokenToId(token: string): number | undefined {
    return this.#idOf(token, 0, token.length);
  }

  /** FNV-1a-32 over the UTF-8 bytes of text[start, end), mod vocabSize. */
  #idOf(text: string, start: number, end: number): number {
    let h = FNV_OFFSET;
    for (let i = start; i < end; i++) {
      let cp = text.charCodeAt(i);
      if (cp < 0x80) {
        h = Math.imul(h ^ cp, FNV_PRIME);
        continue;
      }
      if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < end) {
        const low = text.charCodeAt(i + 1);
        if (low >= 0xdc00 && low <= 0xdfff) {
          cp = (cp - 0xd800) * 0x400 + (low - 0xdc00) + 0x10000;
          i++;
        }
      }
      if (cp < 0x800) {
        h = Math.imul(h ^ (0xc0 | (cp >> 6)), FNV_PRIME);
      } else if (cp < 0x10000) {
        h = Math.imul(h ^ (0xe0 | (cp >> 12)), FNV_PRIME);
        h = Math.imul(h ^ (0x80 | ((cp >> 6) & 0x3f)), FNV_PRIME);
      } else {
        h = Math.imul(h ^ (0xf0 | (cp >> 18)), FNV_PRIME);
        h = Math.imul(h ^ (0x80 | ((cp >> 12) & 0x3f)), FNV_PRIME);
        h = Math.imul(h ^ (0x80 | ((cp >> 6) & 0x3f)), FNV_PRIME);
      }
      h = Math.imul(h ^ (0x80 | (cp & 0x3f)), FNV_PRIME);
    }
    return (h >>> 0) % this.vocabSize;
  }
}

const NON_ASCII_SPACE = /\s/u;
const NON_ASCII_WORD = /[\p{L}\p{N}\p{M}]/u;

function charLength(text: string, i: number): number {
  const c = text.charCodeAt(i);
  return c >= 0xd800 && c <= 0xdbff && i + 1 < text.length ? 2 : 1;
}

function isSpaceAt(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  if (c < 0x80) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  return NON_ASCII_SPACE.test(text.slice(i, i + charLength(text, i)));
}

function isWordAt(text: string, i: number): boolean {
  if (i >= text.length) return false;
  const c = text.charCodeAt(i);
  if (c < 0x80) return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
  return NON_ASCII_WORD.test(text.slice(i, i + charLength(text, i)));
}

/**
 * Role markers, one message per block: `<|role|>\ncontent\n`, then `<|assistant|>\n` as the
 * generation prompt. Tools and documents, when given, lead as JSON blocks. Same option semantics
 * as the Jinja renderer (continue_final_message leaves the last message open).
 */
export class SyntheticChatTemplate implements ChatTemplateRenderer {
  render(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    const addGenerationPrompt = options.addGenerationPrompt ?? true;
    const continueFinalMessage = options.continueFinalMessage ?? false;
    if (addGenerationPrompt && continueFinalMessage) {
      throw new TokenizationInputError(
        'Cannot set both `continue_final_message` and `add_generation_prompt` to True.',
      );
    }
    const conversation = parseChatMessages(messages, 'string');
    let out = '';
    if (options.tools?.length) out += `<|tools|>\n${JSON.stringify(options.tools)}\n`;
    if (options.documents?.length) out += `<|documents|>\n${JSON.stringify(options.documents)}\n`;
    conversation.forEach((message, i) => {
      out += `<|${message.role}|>\n${message.content as string}`;
      if (message.tool_calls) out += `\n${JSON.stringify(message.tool_calls)}`;
      if (!(continueFinalMessage && i === conversation.length - 1)) out += '\n';
    });
    if (addGenerationPrompt) out += '<|assistant|>\n';
    return out;
  }
}

/** The `synthetic` model: synthetic tokenizer, role-marker template, no special tokens. */
export function createSyntheticModelTokenizer(options: SyntheticTokenizerOptions = {}): ModelTokenizer {
  return {
    tokenizer: new SyntheticTokenizer(options),
    chatTemplate: new SyntheticChatTemplate(),
    addSpecialTokensForCompletions: false,
  };
}
