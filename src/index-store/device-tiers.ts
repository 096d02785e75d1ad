/**
 * Device tiers of a cached block and their scoring weights (shared reference
 * `kv-events-and-hashing.md` §4.6: gpu 1.0, cpu 0.8, anything else 1.0).
 *
 * vLLM reports the tier as `medium` (`"GPU"`, `"CPU"`, `"STORAGE"`, or nil for GPU); offload
 * connectors may invent others. The in-memory index stores a tier in two bits, so tiers are a fixed
 * set of four codes: gpu, cpu, storage and "other" (every unrecognised medium).
 */

export const TIER_GPU = 0;
export const TIER_CPU = 1;
export const TIER_STORAGE = 2;
export const TIER_OTHER = 3;

/** Tier names by code. */
export const TIER_NAMES = ['gpu', 'cpu', 'storage', 'other'] as const;

export type TierName = (typeof TIER_NAMES)[number];

/** Weights by tier name; `other` applies to every medium that is not gpu, cpu or storage. */
export type TierWeights = Readonly<Partial<Record<TierName, number>>>;

/** llm-d's defaults: gpu 1.0, cpu 0.8, unknown tiers 1.0. */
export const DEFAULT_TIER_WEIGHTS: Readonly<Record<TierName, number>> = Object.freeze({
  gpu: 1.0,
  cpu: 0.8,
  storage: 1.0,
  other: 1.0,
});

/** Normalizes an event's `medium` (or an API tier argument) to its tier name; null means GPU. */
export function tierName(medium: string | null | undefined): TierName {
  return TIER_NAMES[tierCode(medium)]!;
}

/** Tier code (0..3) of a medium string, case-insensitively; null/empty means GPU. */
export function tierCode(medium: string | null | undefined): number {
  if (!medium) return TIER_GPU;
  switch (medium.toLowerCase()) {
    case 'gpu':
      return TIER_GPU;
    case 'cpu':
      return TIER_CPU;
    case 'storage':
      return TIER_STORAGE;
    default:
      return TIER_OTHER;
  }
}

/** Weights as an array indexed by tier code, defaults filled in. */
export function resolveTierWeights(weights: TierWeights = {}): Float64Array {
  const out = new Float64Array(TIER_NAMES.length);
  TIER_NAMES.forEach((name, code) => {
    const w = weights[name] ?? DEFAULT_TIER_WEIGHTS[name];
    if (!Number.isFinite(w) || w < 0)
      throw new RangeError(`tier weight for ${name} must be a finite number >= 0`);
    out[code] = w;
  });
  return out;
}
