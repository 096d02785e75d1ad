/**
 * Tokenization cache for prompts that share long prefixes (system prompts, earlier turns of a
 * conversation, shared documents): the text is cut right after each added-token occurrence
 * (`<|im_start|>`, `<|eot_id|>`, ...), each segment's ids are cached, and only segments not seen
 * before are tokenized. The result equals tokenizing the whole text exactly, because HF tokenizers
 * split at added tokens before anything else (see segmentation-analysis.ts); tokenizers without
 * that guarantee, or without a `segmentation`, are passed through uncached.
 *
 * Entries are keyed by a 64-bit XXH64 and hold the segment text, compared on every hit, so a hash
 * collision costs a miss, never a wrong token.
 */
import { xxh64 } from '@node-rs/xxhash';
import { TokenBudgetLru } from './token-budget-lru.ts';
import type { TextTokenizer, TokenizerSegmentation } from './types.ts';

/**
 * "content": a segment's key is the hash of its text alone; identical segments share an entry
 * wherever they occur (sound because a segment's ids do not depend on what precedes it).
 * "chain": the key also covers every preceding segment (hash seeded with the previous key), so
 * only identical prefixes hit, as in a prefix tree.
 */
export type SegmentKeying = 'content' | 'chain';

export interface SegmentCacheOptions {
  /** Budget in cached tokens (default 2,000,000). */
  readonly maxTokens?: number;
  /** Default "content". */
  readonly keying?: SegmentKeying;
}

export interface SegmentCacheStats {
  /** encode calls, including bypassed ones. */
  readonly encodes: number;
  /** encode calls passed straight to the tokenizer (no segmentation guarantee). */
  readonly bypassed: number;
  readonly segmentHits: number;
  readonly segmentMisses: number;
  /** Tokens served from the cache. */
  readonly hitTokens: number;
  /** Tokens the tokenizer had to produce. */
  readonly missTokens: number;
  readonly entries: number;
  readonly cachedTokens: number;
  readonly maxTokens: number;
  readonly evictions: number;
}

interface Entry {
  readonly text: string;
  readonly parent: bigint;
  readonly tokens: Uint32Array;
}

const ROOT = 0n;

export class SegmentCachedTokenizer implements TextTokenizer {
  readonly #inner: TextTokenizer;
  readonly #segmentation: TokenizerSegmentation | undefined;
  readonly #boundary: RegExp | undefined;
  readonly #keying: SegmentKeying;
  readonly #lru: TokenBudgetLru<bigint, Entry>;
  #encodes = 0;
  #bypassed = 0;
  #segmentHits = 0;
  #segmentMisses = 0;
  #hitTokens = 0;
  #missTokens = 0;

  constructor(inner: TextTokenizer, options: SegmentCacheOptions = {}) {
    this.#inner = inner;
    this.#segmentation = inner.segmentation;
    this.#boundary = this.#segmentation && boundaryPattern(this.#segmentation.boundaryTokens);
    this.#keying = options.keying ?? 'content';
    this.#lru = new TokenBudgetLru(options.maxTokens ?? 2_000_000);
  }

  get name(): string {
    return this.#inner.name;
  }

  get vocabSize(): number {
    return this.#inner.vocabSize;
  }

  get segmentation(): TokenizerSegmentation | undefined {
    return this.#segmentation;
  }

  /** Whether encodes go through the cache (false: the tokenizer gives no segmentation guarantee). */
  get enabled(): boolean {
    return this.#boundary !== undefined;
  }

  decode(ids: readonly number[], skipSpecialTokens?: boolean): string {
    return this.#inner.decode(ids, skipSpecialTokens);
  }

  tokenToId(token: string): number | undefined {
    return this.#inner.tokenToId(token);
  }

  async encode(text: string, addSpecialTokens = false): Promise<number[]> {
    const [ids] = await this.encodeBatch([text], addSpecialTokens);
    return ids!;
  }

  /** Encodes texts through the cache; misses of all texts go to the tokenizer in one batch. */
  async encodeBatch(texts: readonly string[], addSpecialTokens = false): Promise<number[][]> {
    this.#encodes += texts.length;
    if (this.#boundary === undefined || this.#segmentation === undefined) {
      this.#bypassed += texts.length;
      return encodeAll(this.#inner, texts, addSpecialTokens);
    }
    const plans = texts.map((text) => this.#plan(text));
    // A segment's ids depend on its text alone, so misses are tokenized once per distinct text.
    const missed = new Map<string, Uint32Array | undefined>();
    for (const plan of plans) for (const step of plan) if (!step.hit) missed.set(step.text, undefined);
    if (missed.size > 0) {
      const missTexts = [...missed.keys()];
      const encoded = await encodeAll(this.#inner, missTexts, false);
      missTexts.forEach((text, i) => missed.set(text, Uint32Array.from(encoded[i]!)));
      for (const plan of plans) {
        for (const step of plan) {
          if (step.hit) continue;
          step.tokens = missed.get(step.text)!;
          this.#lru.set(step.key, { text: step.text, parent: step.parent, tokens: step.tokens });
        }
      }
    }
    const { specialPrefix, specialSuffix } = this.#segmentation;
    return plans.map((plan) => {
      const ids: number[] = addSpecialTokens ? [...specialPrefix] : [];
      for (const step of plan) {
        const tokens = step.tokens!;
        if (step.hit) {
          this.#segmentHits++;
          this.#hitTokens += tokens.length;
        } else {
          this.#segmentMisses++;
          this.#missTokens += tokens.length;
        }
        for (let i = 0; i < tokens.length; i++) ids.push(tokens[i]!);
      }
      if (addSpecialTokens) ids.push(...specialSuffix);
      return ids;
    });
  }

  stats(): SegmentCacheStats {
    return {
      encodes: this.#encodes,
      bypassed: this.#bypassed,
      segmentHits: this.#segmentHits,
      segmentMisses: this.#segmentMisses,
      hitTokens: this.#hitTokens,
      missTokens: this.#missTokens,
      entries: this.#lru.size,
      cachedTokens: this.#lru.tokens,
      maxTokens: this.#lru.maxTokens,
      evictions: this.#lru.evictions,
    };
  }

  /** Drops every cached segment (statistics are kept). */
  clear(): void {
    this.#lru.clear();
  }

  /** Segments of `text`, each with its key and, when cached, its tokens. */
  #plan(text: string): PlanStep[] {
    const steps: PlanStep[] = [];
    let parent = ROOT;
    for (const segment of splitAfterBoundaries(text, this.#boundary!)) {
      const key = xxh64(segment, this.#keying === 'chain' ? parent : ROOT);
      const entry = this.#lru.get(key);
      const hit =
        entry !== undefined &&
        entry.text === segment &&
        (this.#keying === 'content' || entry.parent === parent);
      steps.push({ key, parent, text: segment, tokens: hit ? entry.tokens : undefined, hit });
      parent = key;
    }
    return steps;
  }
}

interface PlanStep {
  readonly key: bigint;
  readonly parent: bigint;
  readonly text: string;
  tokens: Uint32Array | undefined;
  readonly hit: boolean;
}

/** Leftmost-longest alternation of the boundary tokens, like HF's added-token matcher. */
function boundaryPattern(tokens: readonly string[]): RegExp | undefined {
  if (tokens.length === 0) return undefined;
  const escaped = [...tokens]
    .sort((a, b) => b.length - a.length)
    .map((token) => token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(escaped.join('|'), 'g');
}

/** Cuts `text` right after each boundary-token occurrence; never yields empty segments. */
export function splitAfterBoundaries(text: string, boundary: RegExp): string[] {
  const segments: string[] = [];
  let start = 0;
  boundary.lastIndex = 0;
  for (let match = boundary.exec(text); match !== null; match = boundary.exec(text)) {
    const end = match.index + match[0].length;
    segments.push(text.slice(start, end));
    start = end;
  }
  if (start < text.length) segments.push(text.slice(start));
  return segments;
}

function encodeAll(
  tokenizer: TextTokenizer,
  texts: readonly string[],
  addSpecialTokens: boolean,
): Promise<number[][]> {
  return tokenizer.encodeBatch
    ? tokenizer.encodeBatch(texts, addSpecialTokens)
    : Promise.all(texts.map((text) => tokenizer.encode(text, addSpecialTokens)));
}
