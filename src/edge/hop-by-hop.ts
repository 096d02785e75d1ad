/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection and must not be forwarded by a
 * proxy, in either direction. That is the fixed list below plus every name the Connection header
 * lists.
 */

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

type HeaderValue = string | string[] | undefined;

/** Lower-case names listed in a Connection header value (`close, X-Foo` → {close, x-foo}). */
function connectionTokens(connection: HeaderValue): ReadonlySet<string> {
  if (connection === undefined) return EMPTY;
  const value = Array.isArray(connection) ? connection.join(',') : connection;
  const tokens = new Set<string>();
  for (const token of value.split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '') tokens.add(name);
  }
  return tokens;
}
const EMPTY: ReadonlySet<string> = new Set();

/**
 * A copy of `headers` (lower-case names) without hop-by-hop headers. `alsoDrop` removes further
 * names the caller manages itself (e.g. content-length, host).
 */
export function stripHopByHop<V extends HeaderValue>(
  headers: Readonly<Record<string, V>>,
  alsoDrop: ReadonlySet<string> = EMPTY,
): Record<string, V> {
  const named = connectionTokens(headers['connection']);
  const out: Record<string, V> = {};
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || named.has(name) || alsoDrop.has(name)) continue;
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}
