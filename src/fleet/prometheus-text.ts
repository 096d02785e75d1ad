/**
 * Parser for the Prometheus text exposition format (version 0.0.4), the format vLLM, SGLang and
 * TensorRT-LLM serve on `/metrics`.
 *
 * The router scrapes every endpoint every 50 ms, so the parser works on character codes over the
 * whole body instead of splitting it into lines and running regular expressions, and it can skip
 * the (large) histogram families it does not need without materialising them: pass
 * `options.names`.
 *
 * Histograms and summaries come out as their individual samples (`x_bucket{le="0.1"}`, `x_sum`,
 * `x_count`, `x{quantile="0.5"}`), exactly as they appear on the wire.
 */

/** One sample line of an exposition. */
export interface PrometheusSample {
  /** Metric name as written on the line (for histograms: `…_bucket`, `…_sum`, `…_count`). */
  readonly name: string;
  /** Label pairs, unescaped. A prototype-less object, so a label named `__proto__` is just a label. */
  readonly labels: Readonly<Record<string, string>>;
  /** Sample value; `NaN`, `+Inf` and `-Inf` map to `NaN`, `Infinity` and `-Infinity`. */
  readonly value: number;
  /** Optional sample timestamp, in milliseconds since the epoch. */
  readonly timestampMs?: number;
}

/** `# TYPE` and `# HELP` facts about one metric family. */
export interface PrometheusFamilyMetadata {
  /** `counter`, `gauge`, `histogram`, `summary`, `untyped` (as written, lower-cased). */
  type?: string;
  /** Help text, unescaped. */
  help?: string;
}

export interface PrometheusParseOptions {
  /**
   * When given, only samples whose name is in this set are returned; other sample lines are
   * skipped without being validated or allocated.
   */
  readonly names?: ReadonlySet<string>;
  /** When given, receives the `# TYPE` / `# HELP` metadata, keyed by family name. */
  readonly metadata?: Map<string, PrometheusFamilyMetadata>;
}

/** A malformed exposition line. Carries the 1-based line and column of the problem. */
export class PrometheusParseError extends Error {
  override readonly name = 'PrometheusParseError';
  constructor(
    readonly reason: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`Invalid Prometheus exposition at line ${line}, column ${column}: ${reason}`);
  }
}

const CH_TAB = 9;
const CH_CR = 13;
const CH_SPACE = 32;
const CH_QUOTE = 34;
const CH_HASH = 35;
const CH_COMMA = 44;
const CH_MINUS = 45;
const CH_EQUALS = 61;
const CH_BACKSLASH = 92;
const CH_LBRACE = 123;
const CH_RBRACE = 125;

const isBlank = (c: number): boolean => c === CH_SPACE || c === CH_TAB;

/** `[a-zA-Z_]` */
const isLabelStart = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;

/** `[a-zA-Z0-9_]` */
const isLabelChar = (c: number): boolean => isLabelStart(c) || (c >= 48 && c <= 57);

/** `[a-zA-Z_:]` */
const isMetricStart = (c: number): boolean => isLabelStart(c) || c === 58;

/** `[a-zA-Z0-9_:]` */
const isMetricChar = (c: number): boolean => isLabelChar(c) || c === 58;

/**
 * Parses a Prometheus text exposition into its samples, in input order.
 *
 * Accepts what Prometheus' own text parser accepts: `#` comments, `# HELP` / `# TYPE` lines,
 * blank lines, `\r\n` line ends, label values with the `\\`, `\"` and `\n` escapes, an optional
 * trailing comma in the label set, Go float syntax for values (`NaN`, `+Inf`, `-Inf`, exponents)
 * and an optional integer millisecond timestamp. Unknown escape sequences in label values are
 * kept verbatim (backslash included) rather than rejected. UTF-8 quoted metric names
 * (Prometheus 3 `{"my.metric"}` syntax) are not supported.
 *
 * @throws {PrometheusParseError} on the first malformed line that is not filtered out.
 */
export function parsePrometheusText(text: string, options: PrometheusParseOptions = {}): PrometheusSample[] {
  const { names, metadata } = options;
  const prefilter = names === undefined ? undefined : prefilterFor(names);
  const samples: PrometheusSample[] = [];
  const length = text.length;
  let lineStart = 0;
  let lineNumber = 0;
  while (lineStart < length) {
    lineNumber++;
    let next = text.indexOf('\n', lineStart);
    if (next === -1) next = length;
    let lineEnd = next;
    if (lineEnd > lineStart && text.charCodeAt(lineEnd - 1) === CH_CR) lineEnd--;
    let i = lineStart;
    while (i < lineEnd && isBlank(text.charCodeAt(i))) i++;
    if (i < lineEnd) {
      const cursor: Cursor = { text, pos: i, end: lineEnd, line: lineNumber, lineStart };
      if (text.charCodeAt(i) === CH_HASH) {
        if (metadata !== undefined) readComment(cursor, metadata);
      } else if (prefilter === undefined || prefilter.mayMatch(text, i, lineEnd)) {
        const sample = readSample(cursor, names);
        if (sample !== undefined) samples.push(sample);
      }
    }
    lineStart = next + 1;
  }
  return samples;
}

/**
 * Cheap rejection of unwanted lines for the `names` filter: a hash of the first few characters
 * of the line against the hashes of the wanted names' first characters, computed without
 * allocating. Most lines of a vLLM exposition are histogram buckets nobody asked for; this
 * skips them without slicing or hashing their names. Matches are confirmed exactly afterwards.
 */
interface NamePrefilter {
  mayMatch(text: string, start: number, end: number): boolean;
}

const prefilters = new WeakMap<ReadonlySet<string>, NamePrefilter>();

function prefilterFor(names: ReadonlySet<string>): NamePrefilter {
  let prefilter = prefilters.get(names);
  if (prefilter === undefined) {
    let length = Infinity;
    for (const name of names) length = Math.min(length, name.length);
    const prefixLength = Math.min(length, 32);
    const hashes = new Set<number>();
    for (const name of names) hashes.add(prefixHash(name, 0, prefixLength));
    prefilter = {
      mayMatch: (text, start, end) =>
        start + prefixLength <= end && hashes.has(prefixHash(text, start, prefixLength)),
    };
    prefilters.set(names, prefilter);
  }
  return prefilter;
}

function prefixHash(text: string, start: number, length: number): number {
  let hash = 0;
  for (let i = start; i < start + length; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0;
  return hash;
}

/** Parser position within one line. */
interface Cursor {
  readonly text: string;
  pos: number;
  readonly end: number;
  readonly line: number;
  readonly lineStart: number;
}

function fail(cursor: Cursor, reason: string): never {
  throw new PrometheusParseError(reason, cursor.line, cursor.pos - cursor.lineStart + 1);
}

function skipBlanks(cursor: Cursor): void {
  while (cursor.pos < cursor.end && isBlank(cursor.text.charCodeAt(cursor.pos))) cursor.pos++;
}

function readSample(cursor: Cursor, names: ReadonlySet<string> | undefined): PrometheusSample | undefined {
  const { text } = cursor;
  const nameStart = cursor.pos;
  if (!isMetricStart(text.charCodeAt(nameStart))) fail(cursor, 'expected a metric name');
  cursor.pos++;
  while (cursor.pos < cursor.end && isMetricChar(text.charCodeAt(cursor.pos))) cursor.pos++;
  const name = text.slice(nameStart, cursor.pos);
  if (names !== undefined && !names.has(name)) return undefined;

  const afterName = cursor.pos;
  skipBlanks(cursor);
  const labels: Record<string, string> = Object.create(null) as Record<string, string>;
  if (cursor.pos < cursor.end && text.charCodeAt(cursor.pos) === CH_LBRACE) {
    cursor.pos++;
    readLabels(cursor, labels);
    skipBlanks(cursor);
  } else if (cursor.pos === afterName && cursor.pos < cursor.end) {
    fail(cursor, `invalid character ${JSON.stringify(text[cursor.pos])} in metric name`);
  }

  const valueStart = cursor.pos;
  while (cursor.pos < cursor.end && !isBlank(text.charCodeAt(cursor.pos))) cursor.pos++;
  if (cursor.pos === valueStart) fail(cursor, `missing value for ${name}`);
  const valueText = text.slice(valueStart, cursor.pos);
  const value = parseGoFloat(valueText);
  if (value === undefined) {
    cursor.pos = valueStart;
    fail(cursor, `invalid value ${JSON.stringify(valueText)}`);
  }

  skipBlanks(cursor);
  if (cursor.pos === cursor.end) return { name, labels, value };

  const timestampStart = cursor.pos;
  while (cursor.pos < cursor.end && !isBlank(text.charCodeAt(cursor.pos))) cursor.pos++;
  const timestampText = text.slice(timestampStart, cursor.pos);
  const timestampMs = parseTimestamp(timestampText);
  if (timestampMs === undefined) {
    cursor.pos = timestampStart;
    fail(cursor, `invalid timestamp ${JSON.stringify(timestampText)}`);
  }
  skipBlanks(cursor);
  if (cursor.pos !== cursor.end) fail(cursor, 'unexpected text after timestamp');
  return { name, labels, value, timestampMs };
}

/** Reads `name="value", …}` with the cursor just past `{`. */
function readLabels(cursor: Cursor, labels: Record<string, string>): void {
  const { text } = cursor;
  for (;;) {
    skipBlanks(cursor);
    if (cursor.pos >= cursor.end) fail(cursor, 'unterminated label set');
    if (text.charCodeAt(cursor.pos) === CH_RBRACE) {
      cursor.pos++;
      return;
    }
    const labelStart = cursor.pos;
    if (!isLabelStart(text.charCodeAt(labelStart))) fail(cursor, 'expected a label name');
    cursor.pos++;
    while (cursor.pos < cursor.end && isLabelChar(text.charCodeAt(cursor.pos))) cursor.pos++;
    const labelName = text.slice(labelStart, cursor.pos);
    skipBlanks(cursor);
    if (cursor.pos >= cursor.end || text.charCodeAt(cursor.pos) !== CH_EQUALS) {
      fail(cursor, `expected "=" after label name ${labelName}`);
    }
    cursor.pos++;
    skipBlanks(cursor);
    if (cursor.pos >= cursor.end || text.charCodeAt(cursor.pos) !== CH_QUOTE) {
      fail(cursor, `expected a quoted value for label ${labelName}`);
    }
    cursor.pos++;
    if (labelName in labels) fail(cursor, `duplicate label ${labelName}`);
    labels[labelName] = readLabelValue(cursor);
    skipBlanks(cursor);
    if (cursor.pos >= cursor.end) fail(cursor, 'unterminated label set');
    const c = text.charCodeAt(cursor.pos);
    if (c === CH_COMMA) {
      cursor.pos++;
    } else if (c !== CH_RBRACE) {
      fail(cursor, 'expected "," or "}" after a label value');
    }
  }
}

/** Reads an escaped label value with the cursor just past the opening quote. */
function readLabelValue(cursor: Cursor): string {
  const { text, end } = cursor;
  const start = cursor.pos;
  // Fast path: almost every value has no escapes.
  const quote = text.indexOf('"', start);
  if (quote !== -1 && quote < end) {
    let plain = true;
    for (let i = start; i < quote; i++) {
      if (text.charCodeAt(i) === CH_BACKSLASH) {
        plain = false;
        break;
      }
    }
    if (plain) {
      cursor.pos = quote + 1;
      return text.slice(start, quote);
    }
  }
  let value = '';
  let chunkStart = start;
  let i = start;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c === CH_QUOTE) {
      cursor.pos = i + 1;
      return value + text.slice(chunkStart, i);
    }
    if (c === CH_BACKSLASH && i + 1 < end) {
      value += text.slice(chunkStart, i);
      const escaped = text.charCodeAt(i + 1);
      if (escaped === CH_BACKSLASH) value += '\\';
      else if (escaped === CH_QUOTE) value += '"';
      else if (escaped === 110 /* n */) value += '\n';
      else value += text.slice(i, i + 2);
      i += 2;
      chunkStart = i;
      continue;
    }
    i++;
  }
  cursor.pos = end;
  return fail(cursor, 'unterminated label value');
}

/** Handles `# HELP name text` and `# TYPE name type`; any other comment is ignored. */
function readComment(cursor: Cursor, metadata: Map<string, PrometheusFamilyMetadata>): void {
  const { text } = cursor;
  cursor.pos++;
  const afterHash = cursor.pos;
  skipBlanks(cursor);
  if (cursor.pos === afterHash) return;
  const keywordStart = cursor.pos;
  while (cursor.pos < cursor.end && !isBlank(text.charCodeAt(cursor.pos))) cursor.pos++;
  const keyword = text.slice(keywordStart, cursor.pos);
  if (keyword !== 'HELP' && keyword !== 'TYPE') return;
  skipBlanks(cursor);
  const nameStart = cursor.pos;
  while (cursor.pos < cursor.end && isMetricChar(text.charCodeAt(cursor.pos))) cursor.pos++;
  if (cursor.pos === nameStart) fail(cursor, `expected a metric name after # ${keyword}`);
  const family = text.slice(nameStart, cursor.pos);
  if (cursor.pos < cursor.end && !isBlank(text.charCodeAt(cursor.pos))) {
    fail(cursor, `invalid character in metric name after # ${keyword}`);
  }
  const entry = metadata.get(family) ?? {};
  if (keyword === 'HELP') {
    // A single separator blank; the rest (leading blanks included) is the docstring.
    if (cursor.pos < cursor.end) cursor.pos++;
    entry.help = unescapeHelp(text.slice(cursor.pos, cursor.end));
  } else {
    skipBlanks(cursor);
    const type = text.slice(cursor.pos, cursor.end).trimEnd();
    if (type === '' || /\s/.test(type)) fail(cursor, `invalid # TYPE for ${family}`);
    entry.type = type.toLowerCase();
  }
  metadata.set(family, entry);
}

function unescapeHelp(raw: string): string {
  if (!raw.includes('\\')) return raw;
  return raw.replace(/\\([\\n])/g, (_match, c: string) => (c === 'n' ? '\n' : '\\'));
}

/**
 * Parses a sample value the way Go's `strconv.ParseFloat` (which Prometheus uses) reads the
 * common forms: decimal and exponent notation, `NaN`, `Inf`/`+Inf`/`-Inf` and `Infinity`,
 * case-insensitively. Returns undefined when the text is not a number.
 */
export function parseGoFloat(text: string): number | undefined {
  const first = text.charCodeAt(0);
  const isDigitOrDot = (first >= 48 && first <= 57) || first === 46;
  if (!isDigitOrDot) {
    const lower = text.toLowerCase();
    switch (lower) {
      case 'nan':
        return NaN;
      case 'inf':
      case '+inf':
      case 'infinity':
      case '+infinity':
        return Infinity;
      case '-inf':
      case '-infinity':
        return -Infinity;
    }
  }
  const value = Number(text);
  // Number() also accepts forms Go does not (binary/octal literals); they never appear in
  // expositions, and rejecting them would cost a regex per sample.
  return Number.isNaN(value) ? undefined : value;
}

function parseTimestamp(text: string): number | undefined {
  let i = text.charCodeAt(0) === CH_MINUS ? 1 : 0;
  if (i === text.length) return undefined;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  return Number(text);
}

/** True when every label in `match` is present on the sample with the same value. */
export function labelsMatch(
  labels: Readonly<Record<string, string>>,
  match: Readonly<Record<string, string>> | undefined,
): boolean {
  if (match === undefined) return true;
  for (const key in match) {
    if (labels[key] !== match[key]) return false;
  }
  return true;
}

/** All samples named `name` whose labels include every pair of `match`, in input order. */
export function findSamples(
  samples: readonly PrometheusSample[],
  name: string,
  match?: Readonly<Record<string, string>>,
): PrometheusSample[] {
  const found: PrometheusSample[] = [];
  for (const sample of samples) {
    if (sample.name === name && labelsMatch(sample.labels, match)) found.push(sample);
  }
  return found;
}

/**
 * The value of a gauge or counter: the first sample named `name` whose labels include `match`,
 * or undefined when there is none.
 */
export function sampleValue(
  samples: readonly PrometheusSample[],
  name: string,
  match?: Readonly<Record<string, string>>,
): number | undefined {
  for (const sample of samples) {
    if (sample.name === name && labelsMatch(sample.labels, match)) return sample.value;
  }
  return undefined;
}
