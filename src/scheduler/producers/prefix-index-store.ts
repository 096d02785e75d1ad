/**
 * Where `approx-prefix-cache-producer` keeps "which endpoint was sent which prompt blocks"
 * (llm-d-router.md §2.7 "Index"). Kept behind this interface so a Redis-shared implementation can
 * replace the in-memory one without touching the producer (llm-d's index is per replica, which is
 * why it cannot run active-active; §6). Reads must be synchronous because scheduling is: a shared
 * implementation is expected to serve reads from a local mirror.
 */
export interface PrefixIndexStore {
  /**
   * For each endpoint, how many of `hashes` it holds consecutively from `hashes[0]`.
   * Endpoints holding none are absent from the result.
   */
  longestPrefix(hashes: readonly bigint[]): Map<string, number>;
  /**
   * Records that `endpointId` was sent `hashes` (a chained prompt), then evicts that endpoint's
   * least recently recorded blocks beyond `capacity`.
   */
  add(endpointId: string, hashes: readonly bigint[], capacity: number): void;
  /** Forgets everything about an endpoint. */
  removeEndpoint(endpointId: string): void;
  /** Endpoints with at least one recorded block. */
  endpointIds(): string[];
  /** Number of blocks recorded for an endpoint. */
  blockCount(endpointId: string): number;
}
