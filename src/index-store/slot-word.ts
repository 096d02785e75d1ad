/**
 * One pod entry of a key record, packed in a 32-bit word so a record stays small and a reader gets
 * an entry with a single aligned load (no tearing inside an entry).
 *
 * ```
 * bits  0..9   pod index + 1 (0 = empty slot; so at most 1023 pods)
 * bits 10..11  tier code (device-tiers.ts)
 * bit  12      speculative
 * confirmed:   bits 13..15 reference count (1..7, saturating), bits 16..31 pod generation (mod 2^16)
 * speculative: bits 13..31 expiry, in ticks of TICK_MS since the index epoch (mod 2^19)
 * ```
 *
 * A confirmed entry is live while its generation equals its pod's current generation: clearing a pod
 * is one increment, and stale entries are reclaimed lazily. A speculative entry is live until its
 * expiry; expiries compare modulo 2^19 ticks, so expired entries must be reclaimed within half that
 * range (35 minutes), which the owner's sweeps guarantee.
 */

export const MAX_PODS = 1023;
export const MAX_REFS = 7;
export const GEN_MASK = 0xffff;
/** Resolution of speculative expiries. */
export const TICK_MS = 8;
const TICK_MASK = 0x7ffff;
const TICK_HALF = 0x40000;
/** Longest speculative lifetime accepted; longer TTLs are clamped. */
export const MAX_SPECULATIVE_TTL_MS = 30 * 60 * 1000;

const SPECULATIVE_BIT = 0x1000;

export function slotPod(word: number): number {
  return (word & 0x3ff) - 1;
}

export function slotTier(word: number): number {
  return (word >>> 10) & 3;
}

export function slotIsSpeculative(word: number): boolean {
  return (word & SPECULATIVE_BIT) !== 0;
}

export function slotRefs(word: number): number {
  return (word >>> 13) & 7;
}

export function slotGen(word: number): number {
  return word >>> 16;
}

export function slotExpiry(word: number): number {
  return word >>> 13;
}

export function confirmedSlot(pod: number, tier: number, refs: number, gen: number): number {
  return ((pod + 1) | (tier << 10) | (refs << 13) | ((gen & GEN_MASK) << 16)) >>> 0;
}

/** Speculative entries are GPU-tier: the pod is about to compute the blocks. */
export function speculativeSlot(pod: number, expiryTick: number): number {
  return ((pod + 1) | SPECULATIVE_BIT | ((expiryTick & TICK_MASK) << 13)) >>> 0;
}

/** Current tick of a clock reading relative to the index epoch. */
export function tickAt(nowMs: number, epochMs: number): number {
  return Math.floor((nowMs - epochMs) / TICK_MS) & TICK_MASK;
}

/** Tick at which an entry created at `nowMs` with `ttlMs` expires (TTL clamped, at least one tick). */
export function expiryTickFor(nowMs: number, epochMs: number, ttlMs: number): number {
  const ttl = Math.min(Math.max(ttlMs, TICK_MS), MAX_SPECULATIVE_TTL_MS);
  return Math.ceil((nowMs - epochMs + ttl) / TICK_MS) & TICK_MASK;
}

/** Whether a speculative expiry is still in the future at `nowTick` (modular comparison). */
export function tickAlive(expiryTick: number, nowTick: number): boolean {
  const ahead = (expiryTick - nowTick) & TICK_MASK;
  return ahead !== 0 && ahead < TICK_HALF;
}

/** Later of two expiry ticks, modulo the tick range. */
export function laterTick(a: number, b: number): number {
  return ((b - a) & TICK_MASK) < TICK_HALF ? b : a;
}
