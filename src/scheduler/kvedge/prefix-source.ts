/**
 * Which prefix information the picker trusts for a request: the first of its configured producers
 * that produced data. The precise producer produces nothing when the request has no block keys or
 * the router has no KV-event index, which is exactly when the approximate one should be used.
 */
import type { PrefixMatchData } from '../prefix-cache-match-info.ts';
import type { SchedulingCycle } from '../types.ts';

/** The chosen producer's output, or none. */
export interface PrefixSource {
  /** Producer whose data is used; null when none produced any (every pod then counts as cold). */
  readonly producer: string | null;
  readonly data: PrefixMatchData | null;
}

export function prefixSource(cycle: SchedulingCycle, producers: readonly string[]): PrefixSource {
  for (const producer of producers) {
    const data = cycle.producerData<PrefixMatchData>(producer);
    if (data && data.totalBlocks > 0) return { producer, data };
  }
  return { producer: null, data: null };
}

/** Matched blocks of `endpointId` (0 without data). */
export function matchedBlocks(source: PrefixSource, endpointId: string): number {
  return source.data?.matches.get(endpointId) ?? 0;
}
