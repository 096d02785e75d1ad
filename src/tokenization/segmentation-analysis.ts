/**
 * Decides whether a HF tokenizer's output for a text equals the concatenation of its outputs for
 * pieces of the text cut right after added-token occurrences, and at which tokens.
 *
 * Why it holds: HF tokenizers first split the raw text at added tokens (leftmost-longest match,
 * before normalization), then normalize, pre-tokenize and run the model on each remaining piece
 * independently; the post-processor adds special tokens around the whole sequence afterwards.
 * A cut after an added token therefore changes nothing, provided that no pipeline stage looks at
 * where a piece sits in the whole text. Stages that do (Metaspace with prepend_scheme "first",
 * added tokens with lstrip or single_word, which look across the cut) and stages not reviewed
 * here disable segmentation. test/tokenization checks the claim on real tokenizers.
 */

/** tokenizer.json, the fields this analysis reads. */
export interface TokenizerJson {
  readonly added_tokens?: readonly AddedTokenJson[];
  readonly normalizer?: PipelineStep | null;
  readonly pre_tokenizer?: PipelineStep | null;
}

export interface AddedTokenJson {
  readonly id: number;
  readonly content: string;
  readonly special: boolean;
  readonly single_word?: boolean;
  readonly lstrip?: boolean;
  readonly rstrip?: boolean;
  readonly normalized?: boolean;
}

interface PipelineStep {
  readonly type: string;
  readonly [field: string]: unknown;
}

/** Normalizers that work on each piece alone. */
const PIECEWISE_NORMALIZERS = new Set([
  'NFC',
  'NFD',
  'NFKC',
  'NFKD',
  'Lowercase',
  'Strip',
  'StripAccents',
  'Replace',
  'Prepend',
  'Precompiled',
  'BertNormalizer',
  'Nmt',
]);

/** Pre-tokenizers that work on each piece alone (Metaspace only without prepend_scheme "first"). */
const PIECEWISE_PRE_TOKENIZERS = new Set([
  'ByteLevel',
  'Split',
  'Digits',
  'Punctuation',
  'Whitespace',
  'WhitespaceSplit',
  'BertPreTokenizer',
  'CharDelimiterSplit',
  'UnicodeScripts',
  'Metaspace',
]);

/**
 * The added-token strings at which a text may be cut, or null when cutting is not known to be
 * exact for this tokenizer.
 */
export function segmentBoundaryTokens(json: TokenizerJson): string[] | null {
  const added = json.added_tokens ?? [];
  if (added.some((t) => t.lstrip === true || t.single_word === true)) return null;
  if (!isPiecewise(json.normalizer ?? null, PIECEWISE_NORMALIZERS, 'normalizers')) return null;
  if (!isPiecewise(json.pre_tokenizer ?? null, PIECEWISE_PRE_TOKENIZERS, 'pretokenizers')) return null;
  // Matched in the raw text, not stripping into its neighbours, and not whitespace at an edge
  // (an rstrip token before it could otherwise reach across the cut).
  return added
    .filter((t) => t.normalized !== true && t.rstrip !== true && t.content.length > 0)
    .filter((t) => !/^\s|\s$/u.test(t.content))
    .map((t) => t.content);
}

function isPiecewise(step: PipelineStep | null, allowed: ReadonlySet<string>, listField: string): boolean {
  if (step === null) return true;
  if (step.type === 'Sequence') {
    const steps = step[listField] as PipelineStep[] | undefined;
    return Array.isArray(steps) && steps.every((s) => isPiecewise(s, allowed, listField));
  }
  if (step.type === 'Metaspace' && step.prepend_scheme === 'first') return false;
  return allowed.has(step.type);
}

/**
 * Splits the ids of `withSpecial` (an encoding with special tokens) into what the post-processor
 * added before and after `plain` (the same text without), or null if it is not a plain wrap.
 */
export function specialTokenWrap(
  plain: readonly number[],
  withSpecial: readonly number[],
): { prefix: number[]; suffix: number[] } | null {
  if (withSpecial.length < plain.length) return null;
  for (let offset = 0; offset + plain.length <= withSpecial.length; offset++) {
    if (plain.every((id, i) => withSpecial[offset + i] === id)) {
      return { prefix: withSpecial.slice(0, offset), suffix: withSpecial.slice(offset + plain.length) };
    }
  }
  return null;
}
