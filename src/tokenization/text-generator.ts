/**
 * Output tokens for the simulator that survive a round trip through text: the ids a simulated
 * model "generates" decode to text which, sent back as the assistant message of the next turn,
 * re-tokenizes to the same ids, so a multi-turn follow-up can hit the cached answer as it would
 * on vLLM.
 *
 * The generated text is one leading word without a space (e.g. "The") followed by words with a
 * leading space (" cat"): whole pre-tokenizer words, so no BPE merge can cross them, and no
 * leading/trailing whitespace for templates that trim content (Llama 3.1's `| trim`). Every
 * candidate token is checked against the real tokenizer once per tokenizer: by itself, and inside
 * long concatenations.
 */
import type { TextTokenizer } from './types.ts';

export interface TextGenerator {
  /**
   * `count` token ids for `seed`, deterministic: the same seed and count always give the same ids,
   * and a longer count extends a shorter one.
   */
  generate(seed: number, count: number): number[];
  /** Verified tokens that may start a message (no leading space). */
  readonly leadingIds: readonly number[];
  /** Verified tokens that continue a message (one leading space, then a word). */
  readonly continuationIds: readonly number[];
}

export interface TextGeneratorOptions {
  /** How many continuation tokens to collect (default 2048). */
  readonly continuationTokens?: number;
  /** How many leading tokens to collect (default 64). */
  readonly leadingTokens?: number;
}

const LEADING_WORD = /^[A-Z][a-z]{2,15}$/;
const CONTINUATION_WORD = /^ [a-z]{3,15}$/;
/** Continuation tokens per verification text. */
const CHUNK = 32;

const prepared = new WeakMap<TextTokenizer, Promise<TextGenerator>>();
const ready = new WeakMap<TextTokenizer, TextGenerator>();

/**
 * Builds (once per tokenizer object, memoized) and verifies the generator's vocabulary.
 * `loadModelTokenizer` does this for the models it loads.
 *
 * @throws Error when the tokenizer has too few round-tripping word tokens.
 */
export function prepareTextGenerator(
  tokenizer: TextTokenizer,
  options: TextGeneratorOptions = {},
): Promise<TextGenerator> {
  let promise = prepared.get(tokenizer);
  if (promise === undefined) {
    promise = buildGenerator(tokenizer, options).then((generator) => {
      ready.set(tokenizer, generator);
      return generator;
    });
    promise.catch(() => prepared.delete(tokenizer));
    prepared.set(tokenizer, promise);
  }
  return promise;
}

/**
 * The generator for a tokenizer already prepared by {@link prepareTextGenerator} (synchronous,
 * for callers on a hot path).
 *
 * @throws Error if the tokenizer has not been prepared.
 */
export function createTextGenerator(tokenizer: TextTokenizer): TextGenerator {
  const generator = ready.get(tokenizer);
  if (generator === undefined) {
    throw new Error(
      `text generator for ${tokenizer.name} is not prepared: await prepareTextGenerator(tokenizer) ` +
        'first (loadModelTokenizer does this by default)',
    );
  }
  return generator;
}

async function buildGenerator(
  tokenizer: TextTokenizer,
  options: TextGeneratorOptions,
): Promise<TextGenerator> {
  const wantContinuation = options.continuationTokens ?? 2048;
  const wantLeading = options.leadingTokens ?? 64;
  const leading: number[] = [];
  const continuation: number[] = [];
  // Low ids are the most frequent merges in BPE vocabularies: common words, realistic text.
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    if (leading.length >= wantLeading && continuation.length >= wantContinuation) break;
    const text = tokenizer.decode([id]);
    if (leading.length < wantLeading && LEADING_WORD.test(text)) leading.push(id);
    else if (continuation.length < wantContinuation && CONTINUATION_WORD.test(text)) continuation.push(id);
  }
  const verifiedContinuation = await verifyContinuation(tokenizer, continuation);
  const verifiedLeading = await verifyLeading(tokenizer, leading, verifiedContinuation);
  if (verifiedLeading.length === 0 || verifiedContinuation.length < 16) {
    throw new Error(`${tokenizer.name}: too few round-tripping word tokens for the text generator`);
  }
  return new SeededTextGenerator(verifiedLeading, verifiedContinuation);
}

/** Keeps the continuation tokens that round-trip alone and concatenated with others. */
async function verifyContinuation(tokenizer: TextTokenizer, ids: number[]): Promise<number[]> {
  const alone = await encodeAll(
    tokenizer,
    ids.map((id) => tokenizer.decode([id])),
  );
  const single = ids.filter((id, i) => sameIds(alone[i]!, [id]));
  const chunks: number[][] = [];
  for (let i = 0; i < single.length; i += CHUNK) chunks.push(single.slice(i, i + CHUNK));
  const together = await encodeAll(
    tokenizer,
    chunks.map((chunk) => tokenizer.decode(chunk)),
  );
  // A chunk that does not round-trip as a whole is dropped whole: simpler than bisecting, and
  // with per-word pre-tokenization it does not happen for the tokenizers we ship.
  return chunks.filter((chunk, i) => sameIds(together[i]!, chunk)).flat();
}

/** Keeps the leading tokens that round-trip alone and followed by continuation words. */
async function verifyLeading(
  tokenizer: TextTokenizer,
  leading: number[],
  continuation: number[],
): Promise<number[]> {
  const tail = continuation.slice(0, CHUNK);
  const sequences = leading.flatMap((id) => [[id], [id, ...tail]]);
  const encoded = await encodeAll(
    tokenizer,
    sequences.map((ids) => tokenizer.decode(ids)),
  );
  return leading.filter(
    (_, i) =>
      sameIds(encoded[2 * i]!, sequences[2 * i]!) && sameIds(encoded[2 * i + 1]!, sequences[2 * i + 1]!),
  );
}

function encodeAll(tokenizer: TextTokenizer, texts: string[]): Promise<number[][]> {
  return tokenizer.encodeBatch
    ? tokenizer.encodeBatch(texts, false)
    : Promise.all(texts.map((text) => tokenizer.encode(text, false)));
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

class SeededTextGenerator implements TextGenerator {
  constructor(
    readonly leadingIds: readonly number[],
    readonly continuationIds: readonly number[],
  ) {}

  generate(seed: number, count: number): number[] {
    if (!Number.isInteger(count) || count < 0)
      throw new RangeError(`count must be a non-negative integer, got ${count}`);
    const next = mulberry32(seed >>> 0);
    const ids: number[] = [];
    for (let i = 0; i < count; i++) {
      const pool = i === 0 ? this.leadingIds : this.continuationIds;
      ids.push(pool[Math.floor(next() * pool.length)]!);
    }
    return ids;
  }
}

/** Small, fast, seedable PRNG (uniform in [0, 1)). */
function mulberry32(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
