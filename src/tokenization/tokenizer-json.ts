/**
 * Reads the top-level sections of a tokenizer.json except the model (vocabulary and merges, 90%+
 * of the file): only the pipeline configuration is needed in JavaScript, the native tokenizer
 * parses the whole file itself, and skipping the model's values is several times faster than
 * JSON.parse of the whole text.
 */

/**
 * Parses every top-level field of the JSON object in `text` except `skip`, whose value is only
 * stepped over.
 *
 * @throws SyntaxError for text that is not a JSON object.
 */
export function parseTopLevelFieldsExcept(text: string, skip: string): Record<string, unknown> {
  // Null prototype: a "__proto__" key stays a plain field, as with JSON.parse.
  const fields = Object.create(null) as Record<string, unknown>;
  let i = skipWhitespace(text, 0);
  if (text[i] !== '{') throw new SyntaxError('tokenizer.json is not a JSON object');
  i = skipWhitespace(text, i + 1);
  while (text[i] !== '}') {
    if (text[i] !== '"') throw new SyntaxError(`expected a key at offset ${i}`);
    const keyEnd = endOfString(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipWhitespace(text, keyEnd);
    if (text[i] !== ':') throw new SyntaxError(`expected ':' at offset ${i}`);
    i = skipWhitespace(text, i + 1);
    const valueEnd = endOfValue(text, i);
    if (key !== skip) fields[key] = JSON.parse(text.slice(i, valueEnd));
    i = skipWhitespace(text, valueEnd);
    if (text[i] === ',') i = skipWhitespace(text, i + 1);
    else if (text[i] !== '}') throw new SyntaxError(`expected ',' or '}' at offset ${i}`);
  }
  return fields;
}

function skipWhitespace(text: string, i: number): number {
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  return i;
}

/** Offset just past the string literal starting at `i` (a '"'). */
function endOfString(text: string, i: number): number {
  let from = i + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote < 0) throw new SyntaxError('unterminated string');
    let backslashes = 0;
    for (let k = quote - 1; text.charCodeAt(k) === 0x5c; k--) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/** Offset just past the JSON value starting at `i`. */
function endOfValue(text: string, i: number): number {
  const first = text.charCodeAt(i);
  if (first === 0x22) return endOfString(text, i);
  if (first === 0x7b || first === 0x5b) {
    let depth = 0;
    for (let j = i; j < text.length;) {
      const c = text.charCodeAt(j);
      if (c === 0x22) {
        j = endOfString(text, j);
        continue;
      }
      if (c === 0x7b || c === 0x5b) depth++;
      else if ((c === 0x7d || c === 0x5d) && --depth === 0) return j + 1;
      j++;
    }
    throw new SyntaxError('unterminated object or array');
  }
  let j = i;
  while (j < text.length && !',}] \n\r\t'.includes(text[j]!)) j++;
  return j;
}
