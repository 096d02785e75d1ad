/**
 * Go-style durations as they appear in llm-d configs (`200ms`, `2s`, `1m30s`). A bare number is
 * taken as milliseconds.
 */
import { z } from 'zod';

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};
const PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;

/** Parses a Go duration string to milliseconds, or returns undefined if malformed. */
export function parseDurationMs(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '0') return 0;
  PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let match = PART.exec(trimmed); match; match = PART.exec(trimmed)) {
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number);
    consumed = PART.lastIndex;
  }
  return consumed === trimmed.length && consumed > 0 ? total : undefined;
}

/** Zod schema: a Go duration string or a number of milliseconds, parsed to milliseconds (≥ 0). */
export const durationMs = z.union([
  z.number().nonnegative(),
  z.string().transform((text, ctx) => {
    const ms = parseDurationMs(text);
    if (ms === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `invalid duration '${text}' (expected e.g. 200ms, 2s, 1m30s)`,
      });
      return z.NEVER;
    }
    return ms;
  }),
]);
