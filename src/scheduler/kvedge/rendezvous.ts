/**
 * Rendezvous (highest-random-weight) tie-breaking on a request's prefix.
 *
 * Several router replicas placing the siblings of one new prompt (parallel samples, fan-out) at
 * the same instant each see an idle fleet with no holder, and a random tie-break sends each
 * sibling somewhere else. Ranking the near-equal candidates by a hash of (prompt, endpoint) instead
 * makes every replica prefer the same pod for the same prompt without any coordination. The hash
 * covers the whole prompt, so different prompts (even with one system prompt in common) prefer
 * uniformly spread pods and ties still spread load.
 */
import type { SchedulingRequest } from '../types.ts';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Units (token ids or characters) hashed from each end of a prompt without block keys. */
const HEAD_UNITS = 64;
const TAIL_UNITS = 256;

/**
 * A 32-bit identity of the whole prompt, or null for an empty one. The last block key already
 * chains every block before it (a partial last block is left out of it, which only makes prompts
 * that differ in their final few tokens share a preference). Without block keys it hashes the
 * length and both ends of the token ids, else of the text: siblings are identical, and prompts
 * that share a system prompt differ at the end, so that is enough, and it stays O(1) on a 32k-token
 * prompt.
 */
export function promptIdentity(request: SchedulingRequest): number | null {
  const keys = request.blockKeys;
  const last = keys && keys.length > 0 ? keys[keys.length - 1] : undefined;
  if (last !== undefined) return Number(BigInt.asUintN(32, last ^ (last >> 32n)));
  const ids = request.tokenIds;
  if (ids && ids.length > 0) return hashEnds(ids.length, (i) => ids[i] as number);
  const text = request.promptText;
  if (!text) return null;
  return hashEnds(text.length, (i) => text.charCodeAt(i));
}

function hashEnds(length: number, unit: (i: number) => number): number {
  let h = Math.imul(FNV_OFFSET ^ length, FNV_PRIME);
  const head = Math.min(length, HEAD_UNITS);
  for (let i = 0; i < head; i++) h = Math.imul(h ^ (unit(i) >>> 0), FNV_PRIME);
  for (let i = Math.max(head, length - TAIL_UNITS); i < length; i++)
    h = Math.imul(h ^ (unit(i) >>> 0), FNV_PRIME);
  return h >>> 0;
}

/** The weight of `endpointId` for `identity`: the candidate with the highest weight wins a tie. */
export function rendezvousWeight(identity: number, endpointId: string): number {
  let h = identity ^ FNV_OFFSET;
  for (let i = 0; i < endpointId.length; i++) h = Math.imul(h ^ endpointId.charCodeAt(i), FNV_PRIME);
  // murmur3's finalizer: FNV alone leaves the low bits of short, similar ids correlated.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
