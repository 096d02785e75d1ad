/**
 * Synchronous decoding of token ids to text, following the `decoder` section of tokenizer.json the
 * way HF tokenizers (Rust) chains it. The native binding only decodes asynchronously, and the
 * simulator decodes one token per streamed chunk, so this runs in JavaScript.
 *
 * Supported decoders: ByteLevel (GPT-2 / Llama 3 / Qwen), and the SentencePiece family:
 * Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence. Others make `decode` throw.
 */

/** A decoder step over the token strings of one decode call. */
type DecodeStep = (tokens: string[]) => string[];

/** tokenizer.json `decoder` (partial; only the fields the supported decoders read). */
export interface DecoderConfig {
  readonly type: string;
  readonly [field: string]: unknown;
}

/** GPT-2's byte-to-printable-char table, inverted: char code -> byte. */
const BYTE_LEVEL_CHAR_TO_BYTE: ReadonlyMap<number, number> = (() => {
  const map = new Map<number, number>();
  let extra = 0;
  for (let byte = 0; byte < 256; byte++) {
    const printable = (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || byte >= 174;
    map.set(printable ? byte : 256 + extra++, byte);
  }
  return map;
})();

const utf8 = new TextEncoder();
const utf8Lossy = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** Builds the decode function for a tokenizer.json decoder config; null config joins with spaces. */
export function createTokenDecoder(config: DecoderConfig | null): (tokens: string[]) => string {
  if (config === null) return (tokens) => tokens.join(' ');
  let step: DecodeStep;
  try {
    step = buildStep(config);
  } catch (error) {
    const message = (error as Error).message;
    return () => {
      throw new Error(message);
    };
  }
  return (tokens) => step(tokens).join('');
}

function buildStep(config: DecoderConfig): DecodeStep {
  switch (config.type) {
    case 'ByteLevel':
      return byteLevel;
    case 'Sequence': {
      const steps = (config.decoders as DecoderConfig[]).map(buildStep);
      return (tokens) => steps.reduce((acc, step) => step(acc), tokens);
    }
    case 'Replace':
      return replaceStep(config);
    case 'ByteFallback':
      return byteFallback;
    case 'Fuse':
      return (tokens) => [tokens.join('')];
    case 'Strip':
      return stripStep(String(config.content), Number(config.start), Number(config.stop));
    case 'Metaspace':
      return metaspaceStep(config);
    default:
      throw new Error(`decoding is not supported for tokenizer decoder type '${config.type}'`);
  }
}

/**
 * Each token maps char-by-char back to bytes; a token with any char outside the byte-level
 * alphabet contributes its raw UTF-8 instead. Invalid UTF-8 becomes U+FFFD.
 */
function byteLevel(tokens: string[]): string[] {
  const bytes: number[] = [];
  for (const token of tokens) {
    const mapped: number[] = [];
    let allMapped = true;
    for (let i = 0; i < token.length; i++) {
      const byte = BYTE_LEVEL_CHAR_TO_BYTE.get(token.charCodeAt(i));
      if (byte === undefined) {
        allMapped = false;
        break;
      }
      mapped.push(byte);
    }
    if (allMapped) for (const byte of mapped) bytes.push(byte);
    else for (const byte of utf8.encode(token)) bytes.push(byte);
  }
  return [utf8Lossy.decode(Uint8Array.from(bytes))];
}

function replaceStep(config: DecoderConfig): DecodeStep {
  const pattern = config.pattern as { String?: string; Regex?: string };
  const content = String(config.content);
  if (pattern.String !== undefined) {
    const literal = pattern.String;
    return (tokens) => tokens.map((t) => t.split(literal).join(content));
  }
  const regex = new RegExp(String(pattern.Regex), 'gu');
  return (tokens) => tokens.map((t) => t.replace(regex, () => content));
}

/** `<0xAB>` tokens are gathered into bytes; a run that is not valid UTF-8 becomes one U+FFFD per byte. */
function byteFallback(tokens: string[]): string[] {
  const out: string[] = [];
  let pending: number[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    try {
      out.push(new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(pending)));
    } catch {
      for (let i = 0; i < pending.length; i++) out.push('\ufffd');
    }
    pending = [];
  };
  for (const token of tokens) {
    const match = /^<0x([0-9A-Fa-f]{2})>$/.exec(token);
    if (match) {
      pending.push(parseInt(match[1]!, 16));
      continue;
    }
    flush();
    out.push(token);
  }
  flush();
  return out;
}

function stripStep(content: string, start: number, stop: number): DecodeStep {
  return (tokens) =>
    tokens.map((token) => {
      const chars = Array.from(token);
      let from = 0;
      while (from < start && from < chars.length && chars[from] === content) from++;
      let to = chars.length;
      while (chars.length - to < stop && to > from && chars[to - 1] === content) to--;
      return chars.slice(from, to).join('');
    });
}

/** Replacement char -> space; in the first token every replacement char is dropped instead. */
function metaspaceStep(config: DecoderConfig): DecodeStep {
  const replacement = String(config.replacement ?? '▁');
  const scheme = config.prepend_scheme ?? (config.add_prefix_space === false ? 'never' : 'always');
  return (tokens) =>
    tokens.map((token, i) => {
      const dropInFirst = i === 0 && scheme !== 'never';
      return Array.from(token, (c) => (c === replacement ? (dropInFirst ? '' : ' ') : c)).join('');
    });
}
