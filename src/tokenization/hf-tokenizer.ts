/**
 * A Hugging Face tokenizer (tokenizer.json) run by the `tokenizers` native binding, the same Rust
 * code vLLM's fast tokenizers use, so ids match vLLM's exactly.
 */
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { Tokenizer } from 'tokenizers';
import { segmentBoundaryTokens, specialTokenWrap, type TokenizerJson } from './segmentation-analysis.ts';
import { createTokenDecoder, type DecoderConfig } from './token-decoder.ts';
import { parseTopLevelFieldsExcept } from './tokenizer-json.ts';
import type { TextTokenizer, TokenizerSegmentation } from './types.ts';

export interface HfTokenizerOptions {
  /** Name after `hf:` (default: the directory's base name). */
  readonly name?: string;
}

interface TokenizerJsonFile extends TokenizerJson {
  readonly decoder?: DecoderConfig | null;
}

/** Text the special-token probe encodes; any text the tokenizer maps to at least one token. */
const PROBE_TEXT = 'probe text';

export class HfTokenizer implements TextTokenizer {
  readonly name: string;
  readonly vocabSize: number;
  readonly segmentation: TokenizerSegmentation | undefined;
  readonly #native: Tokenizer;
  readonly #decodeTokens: (tokens: string[]) => string;
  readonly #specialIds: ReadonlySet<number>;
  /** id -> token string (null: unknown id), filled on demand. */
  readonly #idToToken = new Map<number, string | null>();

  private constructor(
    name: string,
    native: Tokenizer,
    json: TokenizerJsonFile,
    segmentation: TokenizerSegmentation | undefined,
  ) {
    this.name = name;
    this.#native = native;
    this.vocabSize = native.getVocabSize(true);
    this.#decodeTokens = createTokenDecoder(json.decoder ?? null);
    this.#specialIds = new Set((json.added_tokens ?? []).filter((t) => t.special).map((t) => t.id));
    this.segmentation = segmentation;
  }

  /** Loads `tokenizer.json` from a model directory. */
  static async fromDirectory(directory: string, options: HfTokenizerOptions = {}): Promise<HfTokenizer> {
    const path = join(directory, 'tokenizer.json');
    const text = await readFile(path, 'utf8');
    return HfTokenizer.fromJson(text, options.name ?? basename(resolve(directory)));
  }

  /** Builds a tokenizer from the text of a tokenizer.json; `name` becomes `hf:<name>`. */
  static async fromJson(text: string, name: string): Promise<HfTokenizer> {
    const json = parseTopLevelFieldsExcept(text, 'model') as TokenizerJsonFile;
    const native = Tokenizer.fromString(text);
    // transformers sets truncation/padding per call; a bare encode must use neither.
    native.disableTruncation();
    native.disablePadding();
    const segmentation = await probeSegmentation(native, json);
    return new HfTokenizer(`hf:${name}`, native, json, segmentation);
  }

  async encode(text: string, addSpecialTokens = false): Promise<number[]> {
    const encoding = await this.#native.encode(text, null, { addSpecialTokens });
    return encoding.getIds();
  }

  async encodeBatch(texts: readonly string[], addSpecialTokens = false): Promise<number[][]> {
    if (texts.length === 0) return [];
    const encodings = await this.#native.encodeBatch([...texts], { addSpecialTokens });
    return encodings.map((encoding) => encoding.getIds());
  }

  /** Ids that are not in the vocabulary are skipped, as HF tokenizers do. */
  decode(ids: readonly number[], skipSpecialTokens = false): string {
    const tokens: string[] = [];
    for (const id of ids) {
      if (skipSpecialTokens && this.#specialIds.has(id)) continue;
      const token = this.#tokenString(id);
      if (token !== null) tokens.push(token);
    }
    return this.#decodeTokens(tokens);
  }

  tokenToId(token: string): number | undefined {
    return this.#native.tokenToId(token) ?? undefined;
  }

  #tokenString(id: number): string | null {
    let token = this.#idToToken.get(id);
    if (token === undefined) {
      token = Number.isInteger(id) && id >= 0 && id <= 0xffffffff ? this.#native.idToToken(id) : null;
      this.#idToToken.set(id, token);
    }
    return token;
  }
}

async function probeSegmentation(
  native: Tokenizer,
  json: TokenizerJson,
): Promise<TokenizerSegmentation | undefined> {
  const boundaryTokens = segmentBoundaryTokens(json);
  if (boundaryTokens === null) return undefined;
  const [plain, withSpecial] = await Promise.all([
    native.encode(PROBE_TEXT, null, { addSpecialTokens: false }),
    native.encode(PROBE_TEXT, null, { addSpecialTokens: true }),
  ]);
  const wrap = specialTokenWrap(plain.getIds(), withSpecial.getIds());
  if (wrap === null) return undefined;
  return { boundaryTokens, specialPrefix: wrap.prefix, specialSuffix: wrap.suffix };
}
