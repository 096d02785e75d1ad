/**
 * `PrefixCacheMatchInfo` (llm-d-router.md §2.7–2.8, §2.11): how much of the request's prompt each
 * endpoint is believed to hold, in blocks. Written by the prefix producers, read by
 * `prefix-cache-scorer`, `no-hit-lru-scorer` and the P/D deciders, keyed by producer name.
 */
import type { SchedulingCycle } from './types.ts';

/** Producer name consumers default to (llm-d auto-creates this producer when it is missing). */
export const DEFAULT_PREFIX_PRODUCER_NAME = 'approx-prefix-cache-producer';

/** Match of one endpoint. */
export interface PrefixCacheMatchInfo {
  /** Consecutive blocks from the start held by the endpoint (tier-weighted for the precise producer). */
  readonly matchBlocks: number;
  /** Blocks in the request's prompt. */
  readonly totalBlocks: number;
  readonly blockSizeTokens: number;
}

/** A prefix producer's per-request output. */
export interface PrefixMatchData {
  /** Match per endpoint id; endpoints without an entry hold no block. */
  readonly matches: ReadonlyMap<string, number>;
  readonly totalBlocks: number;
  readonly blockSizeTokens: number;
}

/**
 * The match info of `endpointId` according to `producerName`, or undefined when that producer
 * produced nothing for this request ("no info", which scorers treat as 0).
 */
export function prefixMatchFor(
  cycle: SchedulingCycle,
  producerName: string,
  endpointId: string,
): PrefixCacheMatchInfo | undefined {
  const data = cycle.producerData<PrefixMatchData>(producerName);
  if (!data) return undefined;
  return {
    matchBlocks: data.matches.get(endpointId) ?? 0,
    totalBlocks: data.totalBlocks,
    blockSizeTokens: data.blockSizeTokens,
  };
}
