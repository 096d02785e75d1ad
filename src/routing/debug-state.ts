/**
 * Plugin state of one decision, made JSON-safe for `/debug/route`: stateful pickers keep what
 * they computed for the dispatch hook there (kvedge-picker: every candidate's cost terms), which
 * is exactly what explains a choice. Only the debug path pays for the conversion.
 */

/** Maps become objects, bigints strings, typed arrays their length; functions are dropped. */
export function debugPluginState(states: ReadonlyMap<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of states) out[name] = jsonSafe(value, 0);
  return out;
}

/** Deeper structures are summarized rather than walked: the debug answer stays small. */
const MAX_DEPTH = 6;

function jsonSafe(value: unknown, depth: number): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (value === null || typeof value !== 'object') return typeof value === 'function' ? undefined : value;
  if (depth >= MAX_DEPTH) return '…';
  if (ArrayBuffer.isView(value)) return { length: (value as unknown as ArrayLike<unknown>).length };
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) out[String(k)] = jsonSafe(v, depth + 1);
    return out;
  }
  if (value instanceof Set) return [...value].map((v) => jsonSafe(v, depth + 1));
  if (Array.isArray(value)) return value.map((v) => jsonSafe(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = jsonSafe(v, depth + 1);
  return out;
}
