/**
 * Python's `str.strip` / `lstrip` / `rstrip`, which chat templates call (Qwen3 strips '\n' around
 * reasoning; Jinja's `trim` filter is `str.strip`). JavaScript's `trim` differs: it ignores the
 * argument in @huggingface/jinja and disagrees on which characters are whitespace.
 */

/** Code points for which Python's `str.isspace()` is true. */
const PYTHON_WHITESPACE = new Set<number>([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002,
  0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

export type StripSide = 'both' | 'left' | 'right';

/**
 * Strips `chars` (any of its code points; Python whitespace when null/undefined) from `side`.
 * Works on code points, so astral characters in `chars` are honoured.
 */
export function pythonStrip(value: string, chars: string | null | undefined, side: StripSide): string {
  const strip = chars == null ? PYTHON_WHITESPACE : codePointSet(chars);
  let start = 0;
  let end = value.length;
  if (side !== 'right') {
    while (start < end) {
      const cp = value.codePointAt(start)!;
      if (!strip.has(cp)) break;
      start += cp > 0xffff ? 2 : 1;
    }
  }
  if (side !== 'left') {
    while (end > start) {
      const cp = codePointBefore(value, end);
      if (!strip.has(cp)) break;
      end -= cp > 0xffff ? 2 : 1;
    }
  }
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

function codePointSet(chars: string): Set<number> {
  const set = new Set<number>();
  for (const ch of chars) set.add(ch.codePointAt(0)!);
  return set;
}

function codePointBefore(value: string, end: number): number {
  const low = value.charCodeAt(end - 1);
  if (low >= 0xdc00 && low <= 0xdfff && end >= 2) {
    const high = value.charCodeAt(end - 2);
    if (high >= 0xd800 && high <= 0xdbff) return (high - 0xd800) * 0x400 + (low - 0xdc00) + 0x10000;
  }
  return low;
}
