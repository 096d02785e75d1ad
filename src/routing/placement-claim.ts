/**
 * Placement claims: how router replicas agree where a new prefix goes.
 *
 * Siblings of one prompt (parallel samples, fan-out, a group's first requests) often reach
 * different replicas within the same millisecond. Each sees no pod holding the prompt, because no
 * replica's speculative insert has reached the others yet, and each places it on its own, so the
 * prefix is computed several times. A claim closes that gap: before dispatching a prompt that makes
 * its pod compute many new blocks, the replica atomically claims "the new part of this prompt goes
 * to pod X" under a key every sibling derives alike; a replica that finds a claim already there
 * treats X as holding the shared part and decides again.
 *
 * This module is the pure part: which key, what value, and how much a claim shares with a prompt.
 * The key is the block key at the first checkpoint past the deepest block any pod already holds,
 * so prompts that share that much new content share a claim while prompts that diverge earlier
 * do not. The value names the pod and lists the claimant's block keys at every checkpoint after
 * that; chained block keys make "equal at depth d" mean "equal for the first d blocks".
 */

/** Defaults shared by the Redis claims (cluster config) and the threads' table. */
export const PLACEMENT_CLAIM_DEFAULTS = {
  /** Claim only when the chosen pod computes at least this many uncached prompt tokens. */
  minNewTokens: 1024,
  /** Granularity of the checkpoints that tell how much two claimed prompts share. */
  checkpointTokens: 256,
  /** Lifetime of a claim: until the claimant's speculative insert is visible everywhere. */
  ttlMs: 2000,
} as const;

/** Claim parameters in blocks (converted from the config's tokens by the caller). */
export interface ClaimGeometry {
  /** A dispatch is claimed only when its pod computes at least this many uncached blocks. */
  readonly minNewBlocks: number;
  /** Distance between checkpoints; the claim key sits at the first one past the cached part. */
  readonly checkpointBlocks: number;
  /** Most checkpoints in one claim; longer prompts space them further apart. */
  readonly maxCheckpoints: number;
}

/** What to claim for one dispatch. */
export interface ClaimPlan {
  /** Block key the claim is stored under. */
  readonly key: bigint;
  /** Redis value: the pod and the claimant's checkpoints. */
  readonly value: string;
}

/** Another replica's claim, compared with this prompt. */
export interface ClaimMatch {
  /** The pod the claimant placed the prompt on. */
  readonly endpointId: string;
  /** Leading blocks of this prompt the claimant's prompt shares (a lower bound, checkpoint-exact). */
  readonly sharedBlocks: number;
}

interface ClaimValue {
  /** Claimed endpoint. */
  readonly e: string;
  /** Checkpoints: [depth in blocks, block key at that depth as hex]. */
  readonly c: ReadonlyArray<readonly [number, string]>;
}

/**
 * The claim for dispatching `keys` to `endpointId`, or null when the dispatch computes too little
 * that is new to be worth agreeing on. `matches` are the blocks each candidate holds (the precise
 * producer's output; tier-weighted, so possibly fractional).
 */
export function planClaim(
  keys: readonly bigint[],
  matches: ReadonlyMap<string, number>,
  endpointId: string,
  geometry: ClaimGeometry,
): ClaimPlan | null {
  const total = keys.length;
  const onChosen = Math.floor(matches.get(endpointId) ?? 0);
  if (total - onChosen < geometry.minNewBlocks) return null;
  let cached = 0;
  for (const blocks of matches.values()) cached = Math.max(cached, Math.floor(blocks));
  const step = geometry.checkpointBlocks;
  const first = Math.min(total, (Math.floor(cached / step) + 1) * step);
  // Spread the checkpoints when the new part is long, so a claim stays a few KB at most.
  let spacing = step;
  while ((total - first) / spacing + 1 > geometry.maxCheckpoints) spacing *= 2;
  const checkpoints: Array<[number, string]> = [];
  for (let depth = first; depth < total; depth += spacing) checkpoints.push([depth, hexOf(keys, depth)]);
  checkpoints.push([total, hexOf(keys, total)]);
  const value: ClaimValue = { e: endpointId, c: checkpoints };
  return { key: keys[first - 1] as bigint, value: JSON.stringify(value) };
}

/**
 * The keys under which a claim for `keys` could stand when some pod already holds `heldBlocks` of
 * the prompt, deepest first: every checkpoint up to one past the held part. A router about to
 * recompute what another pod holds looks there first, in case that pod's copy is another router's
 * placement of the same instant (its claim was made at a shallower depth, before the insert landed).
 */
export function probeKeys(keys: readonly bigint[], heldBlocks: number, geometry: ClaimGeometry): bigint[] {
  const step = geometry.checkpointBlocks;
  const total = keys.length;
  // planClaim keys a claim at a multiple of the step, or at the prompt's end when that comes first.
  const limit = (Math.floor(heldBlocks / step) + 1) * step;
  const depths: number[] = [];
  if (limit > total && total % step !== 0) depths.push(total);
  for (let depth = Math.min(limit, total - (total % step)); depth >= step; depth -= step) depths.push(depth);
  return depths.slice(0, geometry.maxCheckpoints).map((depth) => keys[depth - 1] as bigint);
}

/**
 * How much of `keys` the claim `value` covers, or null when the value is not a claim (another
 * version's format, corruption) or shares nothing with the prompt.
 */
export function matchClaim(keys: readonly bigint[], value: string): ClaimMatch | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return null;
  }
  if (!isClaimValue(parsed)) return null;
  let shared = 0;
  for (const [depth, hex] of parsed.c) {
    if (depth > keys.length || depth <= shared) continue;
    if (hexOf(keys, depth) === hex) shared = depth;
  }
  return shared === 0 ? null : { endpointId: parsed.e, sharedBlocks: shared };
}

function hexOf(keys: readonly bigint[], depth: number): string {
  return (keys[depth - 1] as bigint).toString(16);
}

function isClaimValue(v: unknown): v is ClaimValue {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o['e'] === 'string' &&
    Array.isArray(o['c']) &&
    o['c'].every(
      (c: unknown) =>
        Array.isArray(c) && c.length === 2 && Number.isInteger(c[0]) && c[0] > 0 && typeof c[1] === 'string',
    )
  );
}
